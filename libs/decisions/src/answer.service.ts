import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { RunnableLambda, RunnableSequence } from '@langchain/core/runnables';
import { ChatOpenAI } from '@langchain/openai';
import {
  BadUserInputError,
  canonicalJson,
  digestJson,
  FailedPreconditionError,
  getLogger,
  GuardrailBlockedError,
  NotFoundError,
  sha256Hex,
  UpstreamUnavailableError,
  UseCaseSuspendedError,
} from '../../common/src/index.js';
import { isValidSubjectId, MAX_SUBJECT_ID_LENGTH, openPersonalFields, sealPersonalFields, type PersonalDataState, type PostgresLedger, type SubjectKey, type SubjectKeyStore } from '../../audit/src/index.js';
import {
  checkGroundedness,
  checkTopics,
  detectInjection,
  PlaceholderMap,
  redactText,
  redactWithPlaceholders,
  scanPii,
  topicsFor,
  type GroundednessReport,
  type InjectionRuleSet,
  type PiiFinding,
  type PlaceholderVault,
  type TopicPolicy,
} from '../../guardrails/src/index.js';
import type { Principal } from '../../policy/src/index.js';
import { insertCases, openCaseSummary, type CaseSeed, type DecisionReviewSummary, type ReviewService, type UseCaseSwitch } from '../../review/src/index.js';
import type { LoadedAnswerUseCase } from './answer-config.js';
import { unlessPurged } from './decision.service.js';

/** The retrieval port of ask: entitled hybrid search, filtered inside SQL (libs/retrieval). */
export interface PassageSearch {
  search(
    principal: Principal,
    request: { tenant: string; collection: string; query: string; k: number; mode?: 'hybrid' | 'vector' | 'text' },
  ): Promise<RetrievedPassage[]>;
}

export interface RetrievedPassage {
  chunkId: string;
  documentName: string;
  documentVersion: number;
  collection: string;
  citation: string;
  text: string;
  score: number;
  vectorRank: number | null;
  textRank: number | null;
}

/** The LLM port of ask: a fetch that sends OpenAI API calls through Warden's governed proxy path (libs/llm). */
export interface GovernedLlm {
  governedFetch(principal: Principal, options?: { useCase?: string }): typeof fetch;
}

export type AnswerMode = 'EXTRACTIVE' | 'GENERATIVE';

export interface AnswerCitation {
  chunkId: string;
  citation: string;
  documentName: string;
  documentVersion: number;
  score: number;
  text: string;
}

/** One guardrail's verdict on one target; verdicts are appended, never merged or overwritten. */
export interface GuardrailVerdict {
  guardrail: 'pii' | 'injection' | 'output-pii' | 'topic' | 'proxy-output' | 'groundedness';
  /** `question`, `answer` or `passage:<chunk id>`. */
  target: string;
  verdict: 'pass' | 'flag' | 'block' | 'error';
  /** Entity types, rule names or a score; never the matched text. */
  detail: string;
}

/**
 * The immutable record of one answer, stored beside decision records so review, ledger proofs and
 * exports treat both alike. `lineage.featureValues` holds what a reviewer reads (the question as
 * stored, the draft answer and its sources).
 */
export interface AnswerRecord {
  kind: 'answer';
  id: string;
  tenant: string;
  actor: string;
  useCase: string;
  requestId: null;
  outcome: 'ANSWERED' | 'REFER';
  /** The groundedness score. */
  score: number;
  reasonCodes: [];
  attributions: [];
  reviewStatus: 'PENDING' | 'NOT_REQUIRED';
  modelVersion: string;
  policyVersion: string;
  createdAt: string;
  lineage: { featureValues: Record<string, string>; useCaseVersion: string; useCaseConfigHash: string; policyHash: string; inputDigest: string };
  answer: {
    mode: AnswerMode;
    collection: string;
    /** The question after personal data was masked: the only form that is stored or sent on. */
    question: string;
    text: string;
    citations: AnswerCitation[];
    groundedness: number;
    sentences: { sentence: string; supported: boolean; support: number; passage: number | null }[];
    template: { name: string; version: string; hash: string };
    model: { name: string; temperature: number; maxTokens: number } | null;
    usage: { promptTokens: number | null; completionTokens: number | null; source: 'upstream' | 'unknown' | 'none' };
    retrieval: { k: number; mode: string; hits: { chunkId: string; documentVersion: number; score: number; vectorRank: number | null; textRank: number | null; usedInPrompt: boolean }[] };
    guardrails: GuardrailVerdict[];
    /** Vault scope of the placeholders of a use case in placeholder mode; absent in other modes and in older records. */
    placeholderScope?: string | null;
  };
  /**
   * Set when the question was asked for a named data subject: the subject key id and the
   * encrypted question and answer text, which the stored record replaces with `sealed`.
   */
  personal?: { keyId: string; sealed: string };
}

/** Optional guardrail inputs of ask; each defaults to off or to the built-in scanner. */
export interface AnswerGuardOptions {
  /** Forbidden topics per use case, checked on the question and the answer. */
  topics?: TopicPolicy;
  /** Store of placeholder values for use cases in placeholder mode; without it, placeholders are not kept. */
  vault?: PlaceholderVault;
  /** Environment that the HMAC key of hash mode is read from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Personal-data scanner; tests pass one that fails. */
  scanner?: (text: string) => PiiFinding[];
}

/** Shortest HMAC key accepted for hash mode, as for the proxy: 32 characters, so short values cannot be found by trying keys. */
const MIN_HASH_KEY_LENGTH = 32;

/** Result of guarding the question: the redacted question and the placeholders it created. */
interface GuardedQuestion {
  text: string;
  placeholders: PlaceholderMap;
}

export interface AnswerView {
  id: string;
  useCase: string;
  mode: AnswerMode;
  /** Null while a reviewer has not released the answer, and after a reviewer declined it. */
  text: string | null;
  citations: AnswerCitation[];
  groundedness: number;
  reviewStatus: 'PENDING' | 'NOT_REQUIRED' | 'COMPLETED';
  /** RELEASED or WITHHELD once reviewed, RELEASED when no review was needed, null while pending. */
  release: 'RELEASED' | 'WITHHELD' | null;
  review: DecisionReviewSummary | null;
  guardrails: GuardrailVerdict[];
  ledgerSeq: number;
  createdAt: Date;
  /** `erased` once the data subject was erased: the question and answer text then read as `erased`. */
  personalData: PersonalDataState;
}

export interface AskInput {
  useCase: string;
  collection: string;
  question: string;
  /**
   * The bank's id of the person the question is about, when there is one. The question, the
   * answer and the placeholder values are then sealed under that person's key, which `warden
   * erase` destroys.
   */
  subjectId?: string | null;
}

const MIN_QUESTION_LENGTH = 3;
const MAX_QUESTION_LENGTH = 2000;
const EXTRACTIVE_LABEL = 'Extractive answer: the passages below are quoted verbatim from the sources; no text was generated.';

/**
 * Governed answers over document collections (`ask`). Steps: validate, guard the question
 * (personal data masked, injection checked), retrieve with the caller's entitlements, guard every
 * passage, answer (verbatim passages, or an LLM through Warden's governed proxy), check the answer
 * (groundedness, personal data), then write the record, its ledger entry and any review case in
 * one transaction.
 */
export class AnswerService {
  private readonly log = getLogger('answers');
  private readonly hashKeys = new Map<string, string>();

  /** Raises FailedPreconditionError when a use case in hash mode has no key of at least 32 characters in its hashKeyEnv variable. */
  constructor(
    private readonly dataSource: DataSource,
    private readonly useCases: Map<string, LoadedAnswerUseCase>,
    private readonly ledger: PostgresLedger,
    private readonly search: PassageSearch,
    private readonly llm: GovernedLlm | undefined,
    private readonly injectionRules: InjectionRuleSet,
    private readonly reviews: ReviewService,
    private readonly switches: UseCaseSwitch,
    private readonly policyHash: () => string,
    private readonly guards: AnswerGuardOptions = {},
    /** Encrypts answers asked for a named data subject. Without it, such a question is rejected. */
    private readonly subjects?: SubjectKeyStore,
  ) {
    const env = guards.env ?? process.env;
    for (const { config } of useCases.values()) {
      if (config.guardrails.pii !== 'hash') continue;
      const key = env[config.guardrails.hashKeyEnv];
      if (!key || key.length < MIN_HASH_KEY_LENGTH) {
        throw new FailedPreconditionError(
          `Answer use case ${config.useCase} uses PII hash mode, which needs a secret key of at least ${MIN_HASH_KEY_LENGTH} characters in the environment variable ${config.guardrails.hashKeyEnv}. Set it, or set guardrails.pii to mask or placeholder.`,
        );
      }
      this.hashKeys.set(config.useCase, key);
    }
  }

  async ask(principal: Principal, input: AskInput): Promise<AnswerView> {
    const useCase = this.requireUseCase(input.useCase);
    const { config } = useCase;
    const question = checkQuestion(input.question);
    const subjectId = checkSubjectId(input.subjectId);
    if (subjectId !== null && !this.subjects) {
      throw new FailedPreconditionError('Answers for a named data subject need the subject key store; start Warden through createRuntime.');
    }
    if (!config.collections.includes(input.collection)) {
      throw new BadUserInputError(`Use case ${config.useCase} does not answer from collection "${input.collection.slice(0, 64)}".`, [
        { field: 'collection', message: `must be one of: ${config.collections.join(', ')}` },
      ]);
    }
    const suspended = await this.switches.isSuspended(principal.tenant, config.useCase);
    if (suspended && config.review.whenSuspended === 'reject') {
      throw new UseCaseSuspendedError(`Use case ${config.useCase} is suspended by a person; no answers are given until it is resumed.`);
    }

    const verdicts: GuardrailVerdict[] = [];
    const guarded = await this.guardQuestion(principal, config.useCase, question, verdicts, useCase);
    const maskedQuestion = guarded.text;

    const hits = await this.search.search(principal, { tenant: principal.tenant, collection: input.collection, query: maskedQuestion, k: config.retrieval.k, mode: config.retrieval.mode });
    const usable = this.guardPassages(hits, verdicts, useCase);
    const promptPassages = usable.slice(0, config.generation.passages);

    const draft =
      config.generation.mode === 'generative' && this.llm
        ? await this.generate(principal, useCase, maskedQuestion, promptPassages)
        : extractive(promptPassages);

    if (draft.withheld) {
      verdicts.push({ guardrail: 'proxy-output', target: 'answer', verdict: 'block', detail: 'the proxy withheld the reply (finish_reason content_filter); its llm.call entry names the guardrail' });
      await this.recordBlocked(principal, config.useCase, verdicts);
      throw new GuardrailBlockedError('An output guardrail of the LLM proxy withheld the model’s answer, so no answer is given. Rephrase the question.');
    }
    const answerText = await this.guardAnswer(principal, draft.text, verdicts, useCase, guarded.placeholders);
    if (answerText !== draft.text && draft.mode === 'GENERATIVE') {
      // The sentences of the groundedness report are stored, so they are judged on the masked text.
      draft.groundedness = checkGroundedness(answerText, promptPassages.map((passage) => passage.text), {
        minSentenceSupport: config.groundedness.minSentenceSupport,
        minContentWords: 3,
      });
    }
    const id = randomUUID();
    // NOTE: as for decisions, an erasure that commits between reading the key and writing the
    // answer leaves the answer sealed under a destroyed key, so it reads as erased from the start.
    const subjectKey = subjectId === null ? null : await (this.subjects as SubjectKeyStore).activeKey(principal.tenant, subjectId);
    const placeholderScope = await this.storePlaceholders(principal, id, guarded.placeholders, subjectKey);
    const lowGroundedness =
      draft.mode === 'GENERATIVE' && (draft.groundedness.score < config.groundedness.reviewBelow || draft.groundedness.unsupportedClaims > 0);
    if (draft.mode === 'GENERATIVE') {
      verdicts.push({
        guardrail: 'groundedness',
        target: 'answer',
        verdict: lowGroundedness ? 'flag' : 'pass',
        detail: `score ${draft.groundedness.score.toFixed(3)}, review below ${config.groundedness.reviewBelow}; unsupported figures or negations: ${draft.groundedness.unsupportedClaims}`,
      });
    }
    const reasons = [...(suspended ? (['USE_CASE_SUSPENDED'] as const) : []), ...(lowGroundedness ? (['LOW_GROUNDEDNESS'] as const) : [])];

    const policyHash = this.policyHash();
    const record: AnswerRecord = {
      kind: 'answer',
      id,
      tenant: principal.tenant,
      actor: principal.subject,
      useCase: config.useCase,
      requestId: null,
      outcome: reasons.length > 0 ? 'REFER' : 'ANSWERED',
      score: draft.groundedness.score,
      reasonCodes: [],
      attributions: [],
      reviewStatus: reasons.length > 0 ? 'PENDING' : 'NOT_REQUIRED',
      modelVersion: draft.model?.name ?? 'extractive',
      policyVersion: `${config.version}+${policyHash.slice(0, 12)}`,
      createdAt: new Date().toISOString(),
      lineage: {
        featureValues: reviewerFields(maskedQuestion, answerText, draft.citations),
        useCaseVersion: config.version,
        useCaseConfigHash: useCase.configHash,
        policyHash,
        inputDigest: digestJson({ useCase: config.useCase, collection: input.collection, question: maskedQuestion }),
      },
      answer: {
        mode: draft.mode,
        collection: input.collection,
        question: maskedQuestion,
        text: answerText,
        citations: draft.citations,
        groundedness: draft.groundedness.score,
        sentences: draft.groundedness.sentences.map(({ sentence, supported, support, passage }) => ({ sentence, supported, support, passage })),
        template: { name: useCase.template.name, version: useCase.template.version, hash: useCase.template.hash },
        model: draft.model,
        usage: draft.usage,
        retrieval: {
          k: config.retrieval.k,
          mode: config.retrieval.mode,
          hits: hits.map((hit) => ({
            chunkId: hit.chunkId,
            documentVersion: hit.documentVersion,
            score: hit.score,
            vectorRank: hit.vectorRank,
            textRank: hit.textRank,
            usedInPrompt: promptPassages.includes(hit),
          })),
        },
        guardrails: verdicts,
        ...(config.guardrails.pii === 'placeholder' ? { placeholderScope } : {}),
      },
    };

    const reviewCase: CaseSeed | null =
      reasons.length > 0
        ? {
            id: randomUUID(),
            tenant: record.tenant,
            useCase: record.useCase,
            decisionId: id,
            requestedBy: record.actor,
            automaticOutcome: 'REFER',
            modelVersion: record.modelVersion,
            reasons: [...reasons],
            details: lowGroundedness
              ? [`groundedness ${draft.groundedness.score.toFixed(3)} (review below ${config.groundedness.reviewBelow}), unsupported figures or negations ${draft.groundedness.unsupportedClaims}`]
              : [],
            priority: config.review.refer.priority,
            fourEyes: config.review.refer.fourEyes,
            slaMinutes: config.review.slaMinutes[config.review.refer.priority - 1],
            createdAt: record.createdAt,
          }
        : null;

    const stored = subjectId !== null && subjectKey ? sealPersonalFields(record, subjectId, subjectKey) : record;
    const ledgerSeq = await this.write(stored, reviewCase);
    this.log.info({ answerId: id, useCase: config.useCase, mode: draft.mode, groundedness: record.score, review: reasons }, 'answer recorded');
    return toView(record, ledgerSeq, reviewCase ? openCaseSummary(reviewCase) : null, stored.personal ? 'open' : 'unsealed');
  }

  /** Reads an answer of the caller's tenant; the text is shown only once it is released. */
  async get(principal: Principal, id: string): Promise<AnswerView> {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw new BadUserInputError(`Invalid answer id "${id.slice(0, 64)}".`, [{ field: 'id', message: 'must be a UUID as returned by ask' }]);
    }
    const rows: { record: AnswerRecord; ledger_seq: string; record_digest: string }[] = await this.dataSource.query(
      `SELECT record, ledger_seq::text AS ledger_seq, record_digest FROM decisions.decision_records
        WHERE id = $1 AND tenant = $2 AND (record->>'kind' = 'answer' OR (record ? 'purged' AND use_case = ANY($3)))`,
      [id, principal.tenant, [...this.useCases.keys()]],
    );
    if (rows.length === 0) throw new NotFoundError(`Answer ${id} was not found.`);
    const stored = unlessPurged({ id, record: rows[0].record, ledger_seq: rows[0].ledger_seq, record_digest: rows[0].record_digest }).record;
    const opened = await this.openRecord(stored);
    const review = stored.reviewStatus === 'PENDING' ? await this.reviews.summaryForDecision(principal.tenant, id) : null;
    return toView(opened.record, Number(rows[0].ledger_seq), review, opened.state);
  }

  /** Restores the question and answer text of a stored answer, or marks them erased when the subject key is gone. */
  private async openRecord(record: AnswerRecord): Promise<{ record: AnswerRecord; state: PersonalDataState }> {
    if (!record.personal) return { record, state: 'unsealed' };
    const keys = this.subjects ? await this.subjects.keysById(record.tenant, [record.personal.keyId]) : new Map();
    return openPersonalFields(record, keys);
  }

  private requireUseCase(name: string): LoadedAnswerUseCase {
    const found = this.useCases.get(name);
    if (!found) {
      const known = [...this.useCases.keys()].join(', ') || 'none';
      throw new NotFoundError(`Unknown answer use case "${name.slice(0, 64)}". Known answer use cases: ${known}.`);
    }
    return found;
  }

  /**
   * Replaces personal data in the question in the use case's `pii` mode, and checks it for
   * injection and forbidden topics. A failing scanner blocks by default (fail closed), and every
   * refusal is a ledger entry naming the verdicts, never the text.
   */
  private async guardQuestion(principal: Principal, useCase: string, question: string, verdicts: GuardrailVerdict[], loaded: LoadedAnswerUseCase): Promise<GuardedQuestion> {
    const { guardrails } = loaded.config;
    const placeholders = new PlaceholderMap();
    let redacted = question;
    try {
      const findings = this.scan(question);
      redacted = this.redact(question, findings, loaded, placeholders);
      verdicts.push({ guardrail: 'pii', target: 'question', verdict: findings.length > 0 ? 'flag' : 'pass', detail: entityTypes(findings) });
    } catch (error) {
      // The error may quote the scanned text, so only its class is logged.
      this.log.error({ errorName: (error as Error)?.name, useCase }, 'personal-data scan of a question failed');
      verdicts.push({ guardrail: 'pii', target: 'question', verdict: 'error', detail: 'scanner failed' });
      if (guardrails.onScannerError === 'block') {
        await this.recordBlocked(principal, useCase, verdicts);
        throw new GuardrailBlockedError('The question could not be checked for personal data, so it was not processed. Try again later.');
      }
    }

    const injection = detectInjection(redacted, this.injectionRules, 'user');
    verdicts.push({ guardrail: 'injection', target: 'question', verdict: injection.verdict, detail: injectionDetail(injection) });
    const topic = this.judgeTopics(redacted, useCase, 'question', verdicts);
    if (injection.verdict === 'block' && guardrails.injection === 'block') {
      await this.recordBlocked(principal, useCase, verdicts);
      throw new GuardrailBlockedError('The question was rejected by the prompt-injection guardrail. Rephrase it as a question about the documents.');
    }
    if (topic === 'block') {
      await this.recordBlocked(principal, useCase, verdicts);
      throw new GuardrailBlockedError(`The question touches a topic that use case ${useCase} does not answer. The ledger entry names the topic.`);
    }
    return { text: redacted, placeholders };
  }

  /** Records the topic verdict of `text`, when the use case has forbidden topics, and returns it. */
  private judgeTopics(text: string, useCase: string, target: string, verdicts: GuardrailVerdict[]): 'pass' | 'flag' | 'block' {
    const topics = this.guards.topics;
    if (!topics || topicsFor(topics, useCase).size === 0) return 'pass';
    const verdict = checkTopics(text, topics, useCase);
    verdicts.push({ guardrail: 'topic', target, verdict: verdict.verdict, detail: verdict.topics.length > 0 ? `topics ${verdict.topics.join(', ')}` : 'none' });
    return verdict.verdict;
  }

  private scan(text: string): PiiFinding[] {
    return (this.guards.scanner ?? scanPii)(text);
  }

  /** Replaces findings in the use case's `pii` mode: mask, keyed hash, or placeholders added to `placeholders`. */
  private redact(text: string, findings: PiiFinding[], loaded: LoadedAnswerUseCase, placeholders: PlaceholderMap): string {
    const mode = loaded.config.guardrails.pii;
    if (findings.length === 0) return text;
    if (mode === 'placeholder') return redactWithPlaceholders(text, findings, placeholders);
    if (mode === 'hash') return redactText(text, findings, { mode: 'hash', hashKey: this.hashKeys.get(loaded.config.useCase) });
    return redactText(text, findings, { mode: 'mask' });
  }

  /**
   * Seals the answer's placeholders in the vault under `answer:<id>`, with the data subject's key
   * when one is named. Returns the scope, or null when there is nothing to keep or no vault.
   */
  private async storePlaceholders(principal: Principal, id: string, placeholders: PlaceholderMap, subjectKey: SubjectKey | null): Promise<string | null> {
    if (placeholders.size === 0 || !this.guards.vault) return null;
    const scope = `answer:${id}`;
    await this.guards.vault.store(principal.tenant, scope, placeholders, undefined, subjectKey ?? undefined);
    return scope;
  }

  /** Checks every retrieved passage for indirect injection before it can enter a prompt. */
  private guardPassages(hits: RetrievedPassage[], verdicts: GuardrailVerdict[], loaded: LoadedAnswerUseCase): RetrievedPassage[] {
    const usable: RetrievedPassage[] = [];
    for (const hit of hits) {
      const injection = detectInjection(hit.text, this.injectionRules, 'retrieved');
      verdicts.push({ guardrail: 'injection', target: `passage:${hit.chunkId}`, verdict: injection.verdict, detail: injectionDetail(injection) });
      if (injection.verdict === 'block' && loaded.config.guardrails.retrievedInjection === 'drop') continue;
      usable.push(hit);
    }
    return usable;
  }

  /**
   * Replaces personal data that an answer would otherwise show (an LLM can repeat what a source
   * contains), in the use case's `pii` mode, and checks the answer for forbidden topics. A failed
   * scan or a blocking topic withholds the answer and writes an `answer.blocked` entry.
   */
  private async guardAnswer(principal: Principal, text: string, verdicts: GuardrailVerdict[], loaded: LoadedAnswerUseCase, placeholders: PlaceholderMap): Promise<string> {
    const { useCase, guardrails } = loaded.config;
    let redacted = text;
    try {
      const findings = this.scan(text);
      verdicts.push({ guardrail: 'output-pii', target: 'answer', verdict: findings.length > 0 ? 'flag' : 'pass', detail: entityTypes(findings) });
      redacted = this.redact(text, findings, loaded, placeholders);
    } catch (error) {
      this.log.error({ errorName: (error as Error)?.name, useCase }, 'personal-data scan of an answer failed');
      verdicts.push({ guardrail: 'output-pii', target: 'answer', verdict: 'error', detail: 'scanner failed' });
      if (guardrails.onScannerError === 'block') {
        await this.recordBlocked(principal, useCase, verdicts);
        throw new GuardrailBlockedError('The answer could not be checked for personal data, so it was withheld. Try again later.');
      }
    }

    if (this.judgeTopics(redacted, useCase, 'answer', verdicts) === 'block') {
      await this.recordBlocked(principal, useCase, verdicts);
      throw new GuardrailBlockedError(`The answer touched a topic that use case ${useCase} does not allow, so it was withheld. The ledger entry names the topic.`);
    }
    return redacted;
  }

  private async recordBlocked(principal: Principal, useCase: string, verdicts: GuardrailVerdict[]): Promise<void> {
    await this.ledger.appendStandalone(this.dataSource, {
      type: 'answer.blocked',
      tenant: principal.tenant,
      actor: principal.subject,
      payload: { useCase, guardrails: verdicts },
    });
  }

  /**
   * Asks the configured LLM through Warden's governed proxy, with a LangChain chain: the passages
   * are numbered into the versioned template, the model answers, and the answer is checked
   * against the passages it cites.
   */
  private async generate(principal: Principal, loaded: LoadedAnswerUseCase, question: string, passages: RetrievedPassage[]): Promise<Draft> {
    const { config, template } = loaded;
    const model = { name: config.generation.model as string, temperature: config.generation.temperature, maxTokens: config.generation.maxTokens };
    if (passages.length === 0) return { ...extractive([]), model };

    const chat = new ChatOpenAI({
      model: model.name,
      temperature: model.temperature,
      maxTokens: model.maxTokens,
      maxRetries: 0,
      // The governed proxy retries upstreams itself; the key is unused because the fetch is in-process.
      configuration: { baseURL: 'http://warden.internal/v1', apiKey: 'governed-in-process', fetch: this.llm!.governedFetch(principal, { useCase: config.useCase }) },
    });
    const prompt = ChatPromptTemplate.fromMessages([
      ['system', template.system],
      ['human', template.user],
    ]);
    const chain = RunnableSequence.from([
      RunnableLambda.from((items: RetrievedPassage[]) => ({
        question,
        passages: items.map((item, index) => `[${index + 1}] ${item.citation}\n${item.text}`).join('\n\n'),
      })),
      prompt,
      chat,
    ]);

    let message;
    try {
      message = await chain.invoke(passages);
    } catch (error) {
      this.log.warn({ err: error, useCase: config.useCase, model: model.name }, 'LLM call for an answer failed');
      throw new UpstreamUnavailableError(`The model ${model.name} did not answer (${llmFailure(error)}). Try again later; the question was not answered.`);
    }
    const text = typeof message.content === 'string' ? message.content : message.content.map((part) => ('text' in part ? part.text : '')).join('');
    const groundedness = checkGroundedness(
      text,
      passages.map((passage) => passage.text),
      { minSentenceSupport: config.groundedness.minSentenceSupport, minContentWords: 3 },
    );
    const cited = citedPassages(text, passages.length);
    const usage = message.usage_metadata;
    const withheld = (message.response_metadata as { finish_reason?: unknown } | undefined)?.finish_reason === 'content_filter';
    return {
      withheld,
      mode: 'GENERATIVE',
      text,
      citations: (cited.length > 0 ? cited.map((index) => passages[index]) : passages).map(toCitation),
      groundedness,
      model,
      usage: usage ? { promptTokens: usage.input_tokens, completionTokens: usage.output_tokens, source: 'upstream' } : { promptTokens: null, completionTokens: null, source: 'unknown' },
    };
  }

  private async write(record: AnswerRecord, reviewCase: CaseSeed | null): Promise<number> {
    const recordJson = canonicalJson(record);
    const recordDigest = sha256Hex(recordJson);
    return this.dataSource.transaction(async (manager) => {
      // An answer is an automated decision to the ledger: the same entry type and payload fields,
      // so export bundles and both bundle verifiers check answers like credit decisions.
      const receipt = await this.ledger.append(manager, {
        type: 'decision.created',
        tenant: record.tenant,
        actor: record.actor,
        payload: {
          decisionId: record.id,
          kind: 'answer',
          useCase: record.useCase,
          mode: record.answer.mode,
          outcome: record.outcome,
          score: record.score,
          requestId: null,
          groundedness: record.score,
          modelVersion: record.modelVersion,
          templateHash: record.answer.template.hash,
          chunkIds: record.answer.citations.map((citation) => citation.chunkId),
          guardrails: record.answer.guardrails.map(({ guardrail, target, verdict }) => ({ guardrail, target, verdict })),
          recordDigest,
          ...(reviewCase ? { review: reviewCase.reasons } : {}),
        },
      });
      await manager.query(
        `INSERT INTO decisions.decision_records
           (id, tenant, use_case, request_id, actor, outcome, score, model_version, record_json, record_digest, ledger_seq, ledger_hash, created_at)
         VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [record.id, record.tenant, record.useCase, record.actor, record.outcome, record.score, record.modelVersion, recordJson, recordDigest, receipt.seq, receipt.hash, record.createdAt],
      );
      if (reviewCase) await insertCases(manager, [{ seed: reviewCase, ledgerSeq: receipt.seq }]);
      return receipt.seq;
    });
  }
}

interface Draft {
  mode: AnswerMode;
  text: string;
  citations: AnswerCitation[];
  groundedness: GroundednessReport;
  model: AnswerRecord['answer']['model'];
  usage: AnswerRecord['answer']['usage'];
  /** True when the proxy's reply check withheld the model's answer (finish_reason content_filter). */
  withheld?: boolean;
}

/** Builds an extractive answer: the best passages verbatim and numbered, under a label stating that nothing was generated. */
function extractive(passages: RetrievedPassage[]): Draft {
  const none = { promptTokens: null, completionTokens: null, source: 'none' as const };
  if (passages.length === 0) {
    return { mode: 'EXTRACTIVE', text: 'No passage in the collection matches the question.', citations: [], groundedness: { score: 0, unsupportedClaims: 0, sentences: [] }, model: null, usage: none };
  }
  const quoted = passages.map((passage, index) => `[${index + 1}] ${passage.text.trim()} (${passage.citation})`);
  // Every quoted sentence is a passage's own text, so the answer is grounded by construction.
  return { mode: 'EXTRACTIVE', text: [EXTRACTIVE_LABEL, ...quoted].join('\n\n'), citations: passages.map(toCitation), groundedness: { score: 1, unsupportedClaims: 0, sentences: [] }, model: null, usage: none };
}

function toCitation(passage: RetrievedPassage): AnswerCitation {
  return {
    chunkId: passage.chunkId,
    citation: passage.citation,
    documentName: passage.documentName,
    documentVersion: passage.documentVersion,
    score: passage.score,
    text: passage.text,
  };
}

/** Passage indexes (0-based) that the answer's markers name, in order of first mention. */
function citedPassages(text: string, count: number): number[] {
  const cited: number[] = [];
  for (const match of text.matchAll(/\[(\d+(?:\s*,\s*\d+)*)\]/g)) {
    for (const value of match[1].split(',')) {
      const index = Number(value.trim()) - 1;
      if (index >= 0 && index < count && !cited.includes(index)) cited.push(index);
    }
  }
  return cited;
}

/** Builds the fields a reviewer reads in the case view: the question as stored, the draft answer and its sources. */
function reviewerFields(question: string, answer: string, citations: AnswerCitation[]): Record<string, string> {
  const fields: Record<string, string> = { question, draft_answer: answer };
  citations.forEach((citation, index) => {
    fields[`source_${index + 1}`] = `${citation.citation}: ${citation.text}`;
  });
  return fields;
}

function checkQuestion(question: string): string {
  const trimmed = question.trim();
  if (trimmed.length < MIN_QUESTION_LENGTH || trimmed.length > MAX_QUESTION_LENGTH || !trimmed.isWellFormed()) {
    throw new BadUserInputError('Invalid question.', [
      { field: 'question', message: `must be ${MIN_QUESTION_LENGTH} to ${MAX_QUESTION_LENGTH} characters of well-formed text` },
    ]);
  }
  return trimmed;
}

/** Applies the subject-id rule of decisions and erasure, so every accepted subject can be erased later. */
function checkSubjectId(subjectId: string | null | undefined): string | null {
  if (subjectId === undefined || subjectId === null) return null;
  if (!isValidSubjectId(subjectId)) {
    throw new BadUserInputError('Invalid subjectId.', [
      { field: 'subjectId', message: `must be 1 to ${MAX_SUBJECT_ID_LENGTH} UTF-16 code units of well-formed, printable text, the bank's id of the person the question is about` },
    ]);
  }
  return subjectId;
}

function entityTypes(findings: readonly { entityType: string }[]): string {
  if (findings.length === 0) return 'none';
  const counts = new Map<string, number>();
  for (const finding of findings) counts.set(finding.entityType, (counts.get(finding.entityType) ?? 0) + 1);
  return [...counts].map(([type, count]) => `${type}x${count}`).join(', ');
}

function injectionDetail(verdict: { score: number; signals: { rule: string }[] }): string {
  const rules = [...new Set(verdict.signals.map((signal) => signal.rule))];
  return `score ${verdict.score.toFixed(3)}${rules.length > 0 ? `; rules ${rules.join(', ')}` : ''}`;
}

/** Describes an LLM failure by its OpenAI-format status only, never by the upstream's text. */
function llmFailure(error: unknown): string {
  const status = (error as { status?: number }).status;
  return typeof status === 'number' ? `status ${status}` : 'no response';
}

function toView(record: AnswerRecord, ledgerSeq: number, review: DecisionReviewSummary | null, personalData: PersonalDataState): AnswerView {
  const decided = review?.state === 'DECIDED';
  let release: AnswerView['release'] = 'RELEASED';
  let reviewStatus: AnswerView['reviewStatus'] = 'NOT_REQUIRED';
  if (record.reviewStatus === 'PENDING') {
    reviewStatus = decided ? 'COMPLETED' : 'PENDING';
    if (!decided) release = null;
    else if (review?.finalOutcome !== 'APPROVE') release = 'WITHHELD';
  }
  return {
    id: record.id,
    useCase: record.useCase,
    mode: record.answer.mode,
    text: release === 'RELEASED' ? record.answer.text : null,
    citations: release === 'RELEASED' ? record.answer.citations : [],
    groundedness: record.answer.groundedness,
    reviewStatus,
    release,
    review,
    guardrails: record.answer.guardrails,
    ledgerSeq,
    createdAt: new Date(record.createdAt),
    personalData,
  };
}
