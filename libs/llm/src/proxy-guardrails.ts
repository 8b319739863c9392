import { randomUUID } from 'node:crypto';
import { FailedPreconditionError, getLogger } from '../../common/src/index.js';
import {
  checkTopics,
  classifierVerdict,
  detectInjection,
  PlaceholderMap,
  redactText,
  redactWithPlaceholders,
  scanPii,
  topicsFor,
  type InjectionRuleSet,
  type LoadedInjectionClassifier,
  type InjectionSource,
  type OutputCheck,
  type OutputSpan,
  type PiiFinding,
  type PlaceholderVault,
  type TopicPolicy,
} from '../../guardrails/src/index.js';
import type { ProxyGuardrailConfig, ProxyGuardrailSettings } from './guardrail-config.js';
import { LlmError } from './openai-error.js';
import { OUTPUT_SCANNER_ERROR, type ReplyGuard } from './proxy-output.js';
import { isObject, mapStrings, redactChatBody, type Redact } from './proxy-redaction.js';

/** One guardrail's verdict on one target of a call, as the `llm.call` ledger entry stores it: entity types and counts or rule names, never text. */
export interface ProxyGuardrailVerdict {
  guardrail: 'pii' | 'injection' | 'injection-classifier' | 'output-pii' | 'topic';
  /**
   * `messages` (every message and every other string of a chat request), `input` (every string of
   * an embeddings request), `vault`, or one item such as `messages[2]`, `input[1]`, `prediction`,
   * `tools[0]` or `choices[0]`.
   */
  target: string;
  verdict: 'pass' | 'flag' | 'block' | 'error';
  detail: string;
}

/** Finds personal data in a text; injectable so tests can make it fail. */
export type PiiScanner = (text: string) => PiiFinding[];

/** The request that goes upstream, and how the reply is restored for this caller. */
export interface GuardedChat {
  body: Record<string, unknown>;
  /** How the reply is checked and restored for this caller. */
  reply: ReplyGuard;
  /** Vault scope under which the call's placeholders are stored, or null when none were stored. */
  placeholderScope: string | null;
}

/** What a chat call's guard needs to know about the caller. */
export interface GuardedCall {
  tenant: string;
  useCase: string;
  /** Whether the caller holds `guardrail restore`. */
  mayRestore(): boolean;
  /** Verdicts are appended here, so a blocked call still records every verdict reached. */
  verdicts: ProxyGuardrailVerdict[];
}

export interface ProxyGuardrailsOptions {
  injectionRules: InjectionRuleSet;
  /** Store of placeholder values; without it, placeholders are restored only within the call. */
  vault: PlaceholderVault | undefined;
  scanner?: PiiScanner;
  /** Forbidden topics per use case; without it no topic is checked. */
  topics?: TopicPolicy;
  /** Optional ONNX injection classifier, judged beside the rules with its own verdicts. */
  classifier?: LoadedInjectionClassifier;
  /** Environment that the HMAC key of hash mode is read from. */
  env: NodeJS.ProcessEnv;
}

/** Raised with the call's outcome `blocked`: the request was not sent upstream. */
export class GuardrailBlock extends LlmError {}

/**
 * Guardrails of the proxy. Before a request goes upstream, every string of its body except
 * protocol identifiers (see proxy-redaction.ts) is scanned and each finding replaced by a
 * placeholder, a mask or a keyed hash. System, user, developer and tool messages, the predicted
 * output, tool descriptions and embeddings inputs are judged for injection, and all but system,
 * developer and tool messages for the use case's forbidden topics. The scanner fails closed unless the use case sets
 * onScannerError: flag. Replies are checked for new personal data and forbidden topics.
 */
export class ProxyGuardrails {
  private readonly log = getLogger('llm-guardrails');

  private constructor(
    private readonly config: ProxyGuardrailConfig,
    private readonly options: ProxyGuardrailsOptions,
    private readonly hashKey: string | undefined,
  ) {}

  /** Raises FailedPreconditionError when hash mode is configured and its key variable is unset or short. */
  static create(config: ProxyGuardrailConfig, options: ProxyGuardrailsOptions): ProxyGuardrails {
    const usesHash = config.defaults.pii === 'hash' || [...config.useCases.values()].some((settings) => settings.pii === 'hash');
    let hashKey: string | undefined;
    if (usesHash) {
      hashKey = options.env[config.hashKeyEnv!];
      if (!hashKey || hashKey.length < MIN_HASH_KEY_LENGTH) {
        throw new FailedPreconditionError(
          `PII hash mode needs a secret key of at least ${MIN_HASH_KEY_LENGTH} characters in the environment variable ${config.hashKeyEnv}. Set it, or set guardrails pii to placeholder or mask in the upstreams file.`,
        );
      }
    }
    return new ProxyGuardrails(config, options, hashKey);
  }

  settingsFor(useCase: string): ProxyGuardrailSettings {
    return this.config.useCases.get(useCase) ?? this.config.defaults;
  }

  /** Redacts a chat request and judges it. Raises GuardrailBlock when it must not go upstream. */
  async guardChat(call: GuardedCall, body: Record<string, unknown>): Promise<GuardedChat> {
    const settings = this.settingsFor(call.useCase);
    if (settings.outputPii !== 'off') rejectUncheckableOutput(body);
    const map = new PlaceholderMap();
    const [guardedBody] = this.redactAll(call, settings, 'messages', [body], map, (item, redact) => redactChatBody(item, redact));
    const guarded = guardedBody.messages as unknown[];

    const judged = guarded.flatMap((message, index) => {
      const role = (message as { role?: unknown } | null)?.role;
      const source = injectionSourceFor(role);
      return source === undefined ? [] : [{ target: `messages[${index}]`, text: messageText(message), source, checkTopics: role === 'user' }];
    });
    judged.push(...instructionTexts(guardedBody));
    await this.judge(call, judged, 'messages');

    const placeholderScope = await this.storePlaceholders(call, map);
    const restoreMap = settings.pii === 'placeholder' && settings.restore && map.size > 0 && call.mayRestore() ? map : undefined;
    const reply: ReplyGuard = { ...this.replyCheck(call.useCase, settings), restoreMap, verdicts: call.verdicts };
    return { body: guardedBody, reply, placeholderScope };
  }

  /**
   * Redacts the inputs of an embeddings request and judges each string input like a user message.
   * Placeholders are not stored, because nothing is restored from a vector. Raises GuardrailBlock
   * when the request must not go upstream, and a 400 for token-array inputs, which cannot be scanned.
   */
  async guardEmbeddings(call: GuardedCall, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const settings = this.settingsFor(call.useCase);
    const single = typeof body.input === 'string';
    const inputs = (single ? [body.input] : (body.input as unknown[])) as unknown[];
    if (settings.pii !== 'off' && !inputs.every((input) => typeof input === 'string')) {
      throw new LlmError(
        400,
        'invalid_request_error',
        'unscannable_input',
        'Token arrays cannot be scanned for personal data, so the proxy accepts embeddings input only as text. Send the text instead of token ids.',
        'input',
      );
    }
    // The input is redacted whole and every other string (user, extra fields) through mapStrings.
    const [guardedBody] = this.redactAll(call, settings, 'input', [body], new PlaceholderMap(), (item, redact) => {
      const { input, ...rest } = item;
      return { ...item, ...(mapStrings(rest, redact) as Record<string, unknown>), input: mapStrings(input, redact) };
    });
    const guarded = (single ? [guardedBody.input] : (guardedBody.input as unknown[])) as unknown[];

    const judged = guarded.flatMap((input, index) =>
      typeof input === 'string' ? [{ target: single ? 'input' : `input[${index}]`, text: input, source: 'user' as const, checkTopics: true }] : [],
    );
    await this.judge(call, judged, 'input');
    return guardedBody;
  }

  /** Redacts every item with the use case's PII mode and records one verdict for all of them. */
  private redactAll<T>(call: GuardedCall, settings: ProxyGuardrailSettings, target: string, items: T[], map: PlaceholderMap, redactItem: (item: T, redact: Redact) => T): T[] {
    if (settings.pii === 'off') return items;
    const counts = new Map<string, number>();
    try {
      const scan = this.options.scanner ?? scanPii;
      const redact: Redact = (text) => {
        const findings = scan(text);
        for (const finding of findings) counts.set(finding.entityType, (counts.get(finding.entityType) ?? 0) + 1);
        if (findings.length === 0) return text;
        if (settings.pii === 'placeholder') return redactWithPlaceholders(text, findings, map);
        return redactText(text, findings, { mode: settings.pii === 'hash' ? 'hash' : 'mask', hashKey: this.hashKey });
      };
      const guarded = items.map((item) => redactItem(item, redact));
      call.verdicts.push({ guardrail: 'pii', target, verdict: counts.size > 0 ? 'flag' : 'pass', detail: describeCounts(counts) });
      return guarded;
    } catch (error) {
      // The error may quote the scanned text, so only its class is logged.
      this.log.error({ errorName: (error as Error)?.name, useCase: call.useCase, action: settings.onScannerError }, 'PII scanner failed on a proxy request');
      call.verdicts.push({ guardrail: 'pii', target, verdict: 'error', detail: 'scanner failed' });
      if (settings.onScannerError === 'block') {
        throw new GuardrailBlock(503, 'server_error', 'guardrail_unavailable', 'The personal-data scanner failed, so the request was not sent upstream. Retry later.');
      }
      return items;
    }
  }

  /**
   * Judges each text for injection and, where asked, for forbidden topics. Every verdict is
   * recorded before a block is raised; an injection block is reported before a topic block.
   */
  private async judge(call: GuardedCall, texts: { target: string; text: string; source: InjectionSource; checkTopics: boolean }[], param: string): Promise<void> {
    const injectionBlocked: string[] = [];
    for (const { target, text, source } of texts) {
      const injection = detectInjection(text, this.options.injectionRules, source);
      const rules = [...new Set(injection.signals.map((signal) => signal.rule))];
      const detail = `score ${injection.score.toFixed(3)}${rules.length > 0 ? `; rules ${rules.join(', ')}` : ''}`;
      call.verdicts.push({ guardrail: 'injection', target, verdict: injection.verdict, detail });
      if (injection.verdict === 'block') injectionBlocked.push(target);
    }
    for (const target of await this.classify(call, texts)) {
      if (!injectionBlocked.includes(target)) injectionBlocked.push(target);
    }

    const topicBlocked: string[] = [];
    const topics = this.options.topics;
    if (topics && topicsFor(topics, call.useCase).size > 0) {
      for (const { target, text } of texts.filter((item) => item.checkTopics)) {
        const verdict = checkTopics(text, topics, call.useCase);
        call.verdicts.push({ guardrail: 'topic', target, verdict: verdict.verdict, detail: verdict.topics.length > 0 ? `topics ${verdict.topics.join(', ')}` : 'none' });
        if (verdict.verdict === 'block') topicBlocked.push(target);
      }
    }

    if (injectionBlocked.length > 0) {
      throw new GuardrailBlock(
        400,
        'invalid_request_error',
        'prompt_injection_detected',
        `The prompt-injection guardrail rejected ${injectionBlocked.join(', ')}. Remove instructions that try to change the model’s rules or reveal its prompt.`,
        param,
      );
    }
    if (topicBlocked.length > 0) {
      throw new GuardrailBlock(
        400,
        'invalid_request_error',
        'forbidden_topic',
        `The topic guardrail rejected ${topicBlocked.join(', ')}: it touches a topic that use case ${call.useCase} does not allow. The ledger entry names the topic.`,
        param,
      );
    }
  }

  /**
   * Runs the optional classifier on every judged text and records one `injection-classifier`
   * verdict per text. Returns the targets it blocks. A failure raises GuardrailBlock unless the
   * use case's onScannerError is flag.
   */
  private async classify(call: GuardedCall, texts: { target: string; text: string }[]): Promise<string[]> {
    const loaded = this.options.classifier;
    if (!loaded || texts.length === 0) return [];
    const action = this.settingsFor(call.useCase).onScannerError;
    let results;
    try {
      results = await loaded.classifier.classify(texts.map((item) => item.text));
    } catch (error) {
      this.log.error({ errorName: (error as Error)?.name, useCase: call.useCase, model: loaded.classifier.name, action }, 'injection classifier failed on a proxy request');
      for (const { target } of texts) call.verdicts.push({ guardrail: 'injection-classifier', target, verdict: 'error', detail: 'classifier failed' });
      if (action === 'block') {
        throw new GuardrailBlock(503, 'server_error', 'guardrail_unavailable', 'The prompt-injection classifier failed, so the request was not sent upstream. Retry later.');
      }
      return [];
    }
    const blocked: string[] = [];
    results.forEach((result, index) => {
      const verdict = classifierVerdict(result.score, loaded.settings);
      const target = texts[index].target;
      call.verdicts.push({ guardrail: 'injection-classifier', target, verdict, detail: `model ${loaded.classifier.name}; label ${result.label}; score ${result.score.toFixed(3)}` });
      if (verdict === 'block') blocked.push(target);
    });
    return blocked;
  }

  /** The output check of a use case: personal data per outputPii, and forbidden topics. */
  private replyCheck(useCase: string, settings: ProxyGuardrailSettings): Omit<ReplyGuard, 'restoreMap' | 'verdicts'> {
    const checksPii = settings.outputPii !== 'off';
    const topics = this.options.topics;
    const checksTopics = topics !== undefined && topicsFor(topics, useCase).size > 0;
    if (!checksPii && !checksTopics) return { check: undefined, checksPii, checksTopics };
    const scan = this.options.scanner ?? scanPii;
    const blockPii = settings.outputPii === 'block';
    const check: OutputCheck = (text) => {
      const spans: OutputSpan[] = [];
      if (checksPii) {
        let findings: PiiFinding[];
        try {
          findings = scan(text);
        } catch (error) {
          // A failed scan withholds the reply when the use case blocks on scanner errors, and is recorded either way.
          this.log.error({ errorName: (error as Error)?.name, useCase, action: settings.onScannerError }, 'PII scanner failed on a proxy reply');
          return [{ start: 0, end: text.length, guardrail: 'pii', label: OUTPUT_SCANNER_ERROR, block: settings.onScannerError === 'block' }];
        }
        for (const finding of findings) {
          spans.push({ start: finding.start, end: finding.end, guardrail: 'pii', label: finding.entityType, replacement: `[${finding.entityType}]`, block: blockPii });
        }
      }
      if (checksTopics) {
        for (const match of checkTopics(text, topics, useCase).matches) {
          spans.push({ start: match.start, end: match.end, guardrail: 'topic', label: match.topic, block: match.action === 'block' });
        }
      }
      return spans;
    };
    return { check, checksPii, checksTopics };
  }

  private async storePlaceholders(call: GuardedCall, map: PlaceholderMap): Promise<string | null> {
    if (map.size === 0 || !this.options.vault) return null;
    const scope = `llm-call:${randomUUID()}`;
    try {
      await this.options.vault.store(call.tenant, scope, map);
    } catch (error) {
      this.log.error({ err: error, tenant: call.tenant, scope }, 'placeholder vault store failed; the chat request was not sent upstream');
      call.verdicts.push({ guardrail: 'pii', target: 'vault', verdict: 'error', detail: 'vault store failed' });
      throw new GuardrailBlock(503, 'server_error', 'guardrail_unavailable', 'The placeholder vault could not store the request’s placeholders, so it was not sent upstream. Retry later.');
    }
    return scope;
  }
}

/** Shortest HMAC key accepted for hash mode: 32 characters, so short values such as SSNs cannot be found by trying keys. */
const MIN_HASH_KEY_LENGTH = 32;

/** How strictly a message of `role` is judged for injection; undefined for roles that are not judged (assistant). */
function injectionSourceFor(role: unknown): InjectionSource | undefined {
  if (role === 'user' || role === 'system' || role === 'developer') return 'user';
  if (role === 'tool' || role === 'function') return 'retrieved';
  return undefined;
}

/**
 * Raises a 400 for a request whose reply the output check cannot mask: log probabilities repeat
 * the reply token by token, and spoken audio carries the values that its transcript masks.
 */
function rejectUncheckableOutput(body: Record<string, unknown>): void {
  const field =
    body.logprobs === true ? 'logprobs'
    : body.top_logprobs !== undefined && body.top_logprobs !== null ? 'top_logprobs'
    : Array.isArray(body.modalities) && body.modalities.includes('audio') ? 'modalities'
    : body.audio !== undefined && body.audio !== null ? 'audio'
    : undefined;
  if (field === undefined) return;
  throw new LlmError(
    400,
    'invalid_request_error',
    'unscannable_output',
    `The output personal-data check cannot mask ${field === 'modalities' || field === 'audio' ? 'audio output' : 'log probabilities'}, so the proxy does not accept ${field} here. Remove ${field}, or use a use case with outputPii off.`,
    field,
  );
}

/**
 * Texts of a chat request outside its messages that the model reads as instructions: the
 * predicted output, and the descriptions of tools and legacy functions (parameters included).
 * They are judged like user text, for injection and forbidden topics.
 */
function instructionTexts(body: Record<string, unknown>): { target: string; text: string; source: InjectionSource; checkTopics: boolean }[] {
  const texts: { target: string; text: string; source: InjectionSource; checkTopics: boolean }[] = [];
  if (isObject(body.prediction)) {
    const text = messageText(body.prediction);
    if (text.length > 0) texts.push({ target: 'prediction', text, source: 'user', checkTopics: true });
  }
  for (const key of ['tools', 'functions'] as const) {
    const list = body[key];
    if (!Array.isArray(list)) continue;
    list.forEach((tool, index) => {
      const text = descriptionsOf(tool).join('\n');
      if (text.length > 0) texts.push({ target: `${key}[${index}]`, text, source: 'user', checkTopics: true });
    });
  }
  return texts;
}

/** Collects every `description` string under `value`, such as those of a function and its parameters. */
function descriptionsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(descriptionsOf);
  if (!isObject(value)) return [];
  return Object.entries(value).flatMap(([key, item]) => (key === 'description' && typeof item === 'string' ? [item] : descriptionsOf(item)));
}

function messageText(message: unknown): string {
  const content = (message as { content?: unknown }).content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part) => (part as { text?: unknown } | null)?.text)
    .filter((text): text is string => typeof text === 'string')
    .join('\n');
}

function describeCounts(counts: Map<string, number>): string {
  if (counts.size === 0) return 'none';
  return [...counts].map(([type, count]) => `${type}x${count}`).join(', ');
}
