import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { digestJson, PolicyFileError } from '../../common/src/index.js';
import { DEFAULT_REVIEW_CONFIG, resolveReviewConfig, type ReviewConfig } from '../../review/src/index.js';

/**
 * An answer use case: governed question answering over document collections, declared in
 * policies/answers/<name>.yaml. Unlike a decision use case it has no model to train; it names the
 * collections it may read, the prompt template, the LLM and the groundedness bar below which an
 * answer goes to a person instead of the caller.
 */
export interface AnswerUseCaseConfig {
  useCase: string;
  version: string;
  description: string;
  /** Collections a question of this use case may be asked against. */
  collections: string[];
  retrieval: { k: number; mode: 'hybrid' | 'vector' | 'text' };
  /** Prompt template file under policies/, such as prompts/regulatory-qa.yaml. */
  template: string;
  /**
   * `extractive` answers with retrieved passages verbatim and never calls an LLM (for contexts
   * where a bank forbids generated text); `generative` calls `model` and checks the answer.
   */
  generation: { mode: 'extractive' | 'generative'; model: string | null; temperature: number; maxTokens: number; passages: number };
  groundedness: { reviewBelow: number; minSentenceSupport: number };
  /**
   * Guardrail actions: how personal data in the question and answer is replaced (`pii`), a
   * blocking injection verdict on the question or on a passage, and a failed personal-data scan
   * (`onScannerError`, formerly `scannerFailure`). `hashKeyEnv` names the variable that holds the
   * HMAC key of hash mode.
   */
  guardrails: {
    pii: 'placeholder' | 'mask' | 'hash';
    injection: 'block' | 'flag';
    retrievedInjection: 'drop' | 'flag';
    onScannerError: 'block' | 'flag';
    hashKeyEnv: string;
  };
  review: ReviewConfig;
  /** Reasons a reviewer may cite when withholding an answer. */
  declineReasons: { code: string; description: string }[];
}

const DEFAULT_DECLINE_REASONS = [
  { code: 'ANS01', description: 'The cited sources do not support the answer' },
  { code: 'ANS02', description: 'The answer cites the wrong source or section' },
  { code: 'ANS03', description: 'The question is outside the scope of this use case' },
  { code: 'ANS04', description: 'The answer contains personal or confidential data' },
];

/** A prompt template: versioned and hashed, so every answer names the exact text it was built from. */
export interface PromptTemplate {
  name: string;
  version: string;
  system: string;
  user: string;
  hash: string;
}

export interface LoadedAnswerUseCase {
  config: AnswerUseCaseConfig;
  configHash: string;
  template: PromptTemplate;
}

export class AnswerConfigError extends PolicyFileError {
  constructor(file: string, problem: string) {
    super(`Invalid answer use-case file ${file}: ${problem}`);
    this.name = 'AnswerConfigError';
  }
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** Reads and checks every answer use case under `<policyDir>/answers` and the template each names. */
export function loadAnswerUseCases(policyDir: string): Map<string, LoadedAnswerUseCase> {
  const folder = join(policyDir, 'answers');
  const loaded = new Map<string, LoadedAnswerUseCase>();
  if (!existsSync(folder)) return loaded;
  for (const file of readdirSync(folder).filter((name) => name.endsWith('.yaml')).sort()) {
    const config = resolveAnswerConfig(file, parse(readFileSync(join(folder, file), 'utf8')));
    const template = loadTemplate(policyDir, config.template, file);
    loaded.set(config.useCase, { config, configHash: digestJson(config), template });
  }
  return loaded;
}

function resolveAnswerConfig(file: string, raw: unknown): AnswerUseCaseConfig {
  if (!raw || typeof raw !== 'object') throw new AnswerConfigError(file, 'the file must be a YAML mapping');
  const input = raw as Record<string, any>;
  const fail = (problem: string): never => {
    throw new AnswerConfigError(file, problem);
  };

  if (typeof input.useCase !== 'string' || !NAME.test(input.useCase)) fail('useCase must be a lower-case name such as regulatory-qa');
  if (`${input.useCase}.yaml` !== file) fail(`useCase "${input.useCase}" must match the file name`);
  if (typeof input.version !== 'string' || input.version.length === 0) fail('version must be a quoted string such as "2026-12-05.1"');
  const collections = input.collections;
  if (!Array.isArray(collections) || collections.length === 0 || !collections.every((name) => typeof name === 'string' && NAME.test(name))) {
    fail('collections must list at least one collection name');
  }

  const retrieval = { k: 5, mode: 'hybrid', ...(input.retrieval ?? {}) };
  if (!Number.isInteger(retrieval.k) || retrieval.k < 1 || retrieval.k > 20) fail('retrieval.k must be a whole number from 1 to 20');
  if (!['hybrid', 'vector', 'text'].includes(retrieval.mode)) fail('retrieval.mode must be hybrid, vector or text');

  const generation = { mode: 'extractive', model: null, temperature: 0, maxTokens: 512, passages: 3, ...(input.generation ?? {}) };
  if (!['extractive', 'generative'].includes(generation.mode)) fail('generation.mode must be extractive or generative');
  if (generation.mode === 'generative' && (typeof generation.model !== 'string' || generation.model.length === 0)) {
    fail('generation.model must name a model of policies/llm when generation.mode is generative');
  }
  if (typeof generation.temperature !== 'number' || generation.temperature < 0 || generation.temperature > 2) fail('generation.temperature must be from 0 to 2');
  if (!Number.isInteger(generation.maxTokens) || generation.maxTokens < 16 || generation.maxTokens > 8192) fail('generation.maxTokens must be from 16 to 8192');
  if (!Number.isInteger(generation.passages) || generation.passages < 1 || generation.passages > retrieval.k) {
    fail('generation.passages must be from 1 to retrieval.k');
  }

  const groundedness = { reviewBelow: 0.7, minSentenceSupport: 0.6, ...(input.groundedness ?? {}) };
  for (const key of ['reviewBelow', 'minSentenceSupport'] as const) {
    const value = groundedness[key];
    if (typeof value !== 'number' || value < 0 || value > 1) fail(`groundedness.${key} must be a number from 0 to 1`);
  }

  const guardrails = resolveGuardrails(input.guardrails ?? {}, fail);

  // Answers have no numeric features, so review thresholds cannot apply; REFER covers low groundedness.
  const review = resolveReviewConfig(input.review ?? { ...DEFAULT_REVIEW_CONFIG }, [], []);
  if (typeof review === 'string') fail(review);

  const declineReasons = input.declineReasons ?? DEFAULT_DECLINE_REASONS;
  if (
    !Array.isArray(declineReasons) ||
    declineReasons.length === 0 ||
    !declineReasons.every((reason) => typeof reason?.code === 'string' && /^[A-Z0-9_]{2,16}$/.test(reason.code) && typeof reason.description === 'string')
  ) {
    fail('declineReasons must list { code, description } entries with upper-case codes such as ANS01');
  }

  if (typeof input.template !== 'string' || !input.template.endsWith('.yaml')) fail('template must name a YAML file under policies/, such as prompts/regulatory-qa.yaml');
  return {
    useCase: input.useCase,
    version: input.version,
    description: String(input.description ?? ''),
    collections,
    retrieval,
    template: input.template,
    generation,
    groundedness,
    guardrails,
    review: review as ReviewConfig,
    declineReasons,
  };
}

/** Default variable of the HMAC key of hash mode, the same as the proxy's usual hashKeyEnv. */
const DEFAULT_HASH_KEY_ENV = 'WARDEN_PII_HASH_KEY';

function resolveGuardrails(raw: Record<string, unknown>, fail: (problem: string) => never): AnswerUseCaseConfig['guardrails'] {
  if (raw.scannerFailure !== undefined && raw.onScannerError !== undefined && raw.scannerFailure !== raw.onScannerError) {
    fail('guardrails.onScannerError and its older name guardrails.scannerFailure disagree; keep only onScannerError');
  }
  const guardrails = {
    pii: raw.pii ?? 'mask',
    injection: raw.injection ?? 'block',
    retrievedInjection: raw.retrievedInjection ?? 'drop',
    onScannerError: raw.onScannerError ?? raw.scannerFailure ?? 'block',
    hashKeyEnv: raw.hashKeyEnv ?? DEFAULT_HASH_KEY_ENV,
  };
  if (!['placeholder', 'mask', 'hash'].includes(guardrails.pii as string)) fail(`guardrails.pii must be placeholder, mask or hash, got ${JSON.stringify(guardrails.pii)}`);
  if (!['block', 'flag'].includes(guardrails.injection as string)) fail('guardrails.injection must be block or flag');
  if (!['drop', 'flag'].includes(guardrails.retrievedInjection as string)) fail('guardrails.retrievedInjection must be drop or flag');
  if (!['block', 'flag'].includes(guardrails.onScannerError as string)) fail('guardrails.onScannerError must be block or flag');
  if (typeof guardrails.hashKeyEnv !== 'string' || !/^[A-Z_][A-Z0-9_]{0,127}$/.test(guardrails.hashKeyEnv)) {
    fail('guardrails.hashKeyEnv must be the name of an environment variable, such as WARDEN_PII_HASH_KEY (the key itself never goes in this file)');
  }
  return guardrails as AnswerUseCaseConfig['guardrails'];
}

function loadTemplate(policyDir: string, relativePath: string, file: string): PromptTemplate {
  const path = join(policyDir, relativePath);
  if (!path.startsWith(policyDir) || !existsSync(path)) throw new AnswerConfigError(file, `template ${relativePath} does not exist under the policy folder`);
  const raw = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  for (const key of ['name', 'version', 'system', 'user'] as const) {
    if (typeof raw?.[key] !== 'string' || (raw[key] as string).length === 0) {
      throw new AnswerConfigError(file, `template ${relativePath} must have a string ${key}`);
    }
  }
  const user = raw.user as string;
  for (const variable of ['{question}', '{passages}']) {
    if (!user.includes(variable)) throw new AnswerConfigError(file, `template ${relativePath}: user must contain ${variable}`);
  }
  const template = { name: raw.name as string, version: raw.version as string, system: raw.system as string, user };
  return { ...template, hash: digestJson(template) };
}
