import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';
import { FailedPreconditionError } from '../../common/src/index.js';
import { parseGuardrailConfig, type ProxyGuardrailConfig } from './guardrail-config.js';
import { parseDecimal, type Pricing } from './pricing.js';

/** Server that speaks the OpenAI API, such as vLLM, SGLang, TGI, llama.cpp server or Ollama. */
export interface UpstreamConfig {
  name: string;
  /** Base URL up to and including `/v1`, without a trailing slash. */
  baseUrl: string;
  /** Name of the environment variable that holds the upstream's API key; the key never sits in the file. */
  apiKeyEnv: string | undefined;
  /** Time allowed until the response headers arrive, and then between two streamed chunks, in milliseconds. */
  timeoutMs: number;
  /** Attempts after the first one on 429, 5xx, timeouts and connection errors. */
  retries: number;
  /** Delay before the first retry in milliseconds; it doubles on each retry and gets up to 50 % random jitter. */
  backoffMs: number;
  /** Upstream tried, with its own retries, when this one still fails after its retries. */
  fallback: string | undefined;
}

export type ModelKind = 'chat' | 'embeddings';

/** A model as clients name it, and where Warden sends its calls. */
export interface ModelConfig {
  /** Public model name that clients send in `model`. */
  name: string;
  kind: ModelKind;
  upstream: string;
  /** Model name the upstream expects, such as Qwen/Qwen2.5-7B-Instruct. */
  upstreamModel: string;
  /** Model name on other upstreams (a fallback) when it differs from upstreamModel. */
  upstreamModels: Map<string, string>;
  pricing: Pricing;
  /** Absolute path of a Hugging Face tokenizer.json that counts tokens when the upstream reports no usage. */
  tokenizer: string | undefined;
}

export interface LlmConfig {
  /** Currency of every price in the file, such as USD. */
  currency: string;
  /** Maximum requests per minute per tenant, over all models. */
  tenantRequestsPerMinute: number;
  /**
   * Whether a call's response waits until its usage row and ledger entry are committed (the
   * default). When false, the response goes out once the record is queued, so a crash can lose
   * the records of calls already answered.
   */
  waitForLedgerCommit: boolean;
  upstreams: Map<string, UpstreamConfig>;
  models: Map<string, ModelConfig>;
  /** PII redaction and restoration on the chat path. */
  guardrails: ProxyGuardrailConfig;
  /** Path of the file the configuration was read from. */
  file: string;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/;
const ENV_PATTERN = /^[A-Z_][A-Z0-9_]{0,127}$/;

type Raw = Record<string, unknown>;

/**
 * Reads and validates an upstreams file (policies/llm/upstreams.yaml by default). Raises
 * FailedPreconditionError naming the file, the key path and the fix for the first problem found.
 */
export function loadLlmConfig(file: string): LlmConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new FailedPreconditionError(`The LLM upstreams file ${file} could not be read. Create it or set WARDEN_LLM_UPSTREAMS_FILE to an existing file.`);
  }
  let document: unknown;
  try {
    document = parse(text);
  } catch (error) {
    throw new FailedPreconditionError(`The LLM upstreams file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  return parseLlmConfig(document, file);
}

/** Validates a parsed upstreams document; `file` names the source in errors and resolves tokenizer paths. */
export function parseLlmConfig(document: unknown, file: string): LlmConfig {
  const fail = (path: string, message: string): never => {
    throw new FailedPreconditionError(`The LLM upstreams file ${file} is invalid at ${path}: ${message}`);
  };
  const root = asObject(document, '/', fail);
  if (root.version !== 1) fail('/version', `must be 1, got ${JSON.stringify(root.version ?? null)}`);
  const currency = root.currency ?? 'USD';
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) fail('/currency', 'must be an ISO 4217 code such as USD');
  const limits = root.rateLimit === undefined ? {} : asObject(root.rateLimit, '/rateLimit', fail);
  const tenantRequestsPerMinute = integer(limits.tenantRequestsPerMinute ?? 600, '/rateLimit/tenantRequestsPerMinute', 1, 1_000_000, fail);
  const ledger = root.ledger === undefined ? {} : asObject(root.ledger, '/ledger', fail);
  const waitForLedgerCommit = ledger.waitForCommit ?? true;
  if (typeof waitForLedgerCommit !== 'boolean') fail('/ledger/waitForCommit', 'must be true or false');

  const upstreams = new Map<string, UpstreamConfig>();
  for (const [name, value] of Object.entries(asObject(root.upstreams, '/upstreams', fail))) {
    upstreams.set(name, parseUpstream(name, asObject(value, `/upstreams/${name}`, fail), fail));
  }
  if (upstreams.size === 0) fail('/upstreams', 'must declare at least one upstream');
  for (const upstream of upstreams.values()) {
    if (upstream.fallback !== undefined && !upstreams.has(upstream.fallback)) {
      fail(`/upstreams/${upstream.name}/fallback`, `names the upstream "${upstream.fallback}", which is not declared. Declare it or remove the fallback.`);
    }
    if (upstream.fallback === upstream.name) fail(`/upstreams/${upstream.name}/fallback`, 'must name another upstream');
  }

  const models = new Map<string, ModelConfig>();
  for (const [name, value] of Object.entries(asObject(root.models, '/models', fail))) {
    const path = `/models/${name}`;
    if (!NAME_PATTERN.test(name)) fail(path, 'model names use letters, digits and . _ : / -, at most 128 characters');
    const raw = asObject(value, path, fail);
    const kind = raw.kind ?? 'chat';
    if (kind !== 'chat' && kind !== 'embeddings') fail(`${path}/kind`, 'must be chat or embeddings');
    const upstream = raw.upstream;
    if (typeof upstream !== 'string' || !upstreams.has(upstream)) {
      fail(`${path}/upstream`, `must name a declared upstream (${[...upstreams.keys()].join(', ')})`);
    }
    const upstreamModel = raw.upstreamModel ?? name;
    if (typeof upstreamModel !== 'string' || upstreamModel.length === 0) fail(`${path}/upstreamModel`, 'must be the model name the upstream serves');
    let tokenizer: string | undefined;
    if (raw.tokenizer !== undefined) {
      if (typeof raw.tokenizer !== 'string' || raw.tokenizer.length === 0) fail(`${path}/tokenizer`, 'must be the path of a tokenizer.json file');
      const given = raw.tokenizer as string;
      tokenizer = isAbsolute(given) ? given : resolve(dirname(file), given);
    }
    const upstreamModels = new Map<string, string>();
    if (raw.upstreamModels !== undefined) {
      for (const [other, otherModel] of Object.entries(asObject(raw.upstreamModels, `${path}/upstreamModels`, fail))) {
        if (!upstreams.has(other)) fail(`${path}/upstreamModels/${other}`, 'must be keyed by a declared upstream');
        if (typeof otherModel !== 'string' || otherModel.length === 0) fail(`${path}/upstreamModels/${other}`, 'must be the model name that upstream serves');
        upstreamModels.set(other, otherModel as string);
      }
    }
    models.set(name, {
      name,
      kind: kind as ModelKind,
      upstream: upstream as string,
      upstreamModel: upstreamModel as string,
      upstreamModels,
      pricing: parsePricing(raw.pricing, `${path}/pricing`, fail),
      tokenizer,
    });
  }
  const guardrails = parseGuardrailConfig(root.guardrails, fail);
  return { currency: currency as string, tenantRequestsPerMinute, waitForLedgerCommit: waitForLedgerCommit as boolean, upstreams, models, guardrails, file };
}

function parseUpstream(name: string, raw: Raw, fail: (path: string, message: string) => never): UpstreamConfig {
  const path = `/upstreams/${name}`;
  if (!NAME_PATTERN.test(name)) fail(path, 'upstream names use letters, digits and . _ : / -, at most 128 characters');

  let baseUrl: URL | undefined;
  try {
    baseUrl = new URL(String(raw.baseUrl));
  } catch {
    fail(`${path}/baseUrl`, 'must be a URL such as http://127.0.0.1:8000/v1');
  }
  if (baseUrl!.protocol !== 'http:' && baseUrl!.protocol !== 'https:') fail(`${path}/baseUrl`, 'must use http or https');
  if (baseUrl!.username || baseUrl!.password || baseUrl!.search) {
    fail(`${path}/baseUrl`, 'must not contain credentials or a query; put the API key in an environment variable named by apiKeyEnv');
  }

  const apiKeyEnv = raw.apiKeyEnv;
  if (apiKeyEnv !== undefined && (typeof apiKeyEnv !== 'string' || !ENV_PATTERN.test(apiKeyEnv))) {
    fail(`${path}/apiKeyEnv`, 'must be the name of an environment variable, such as VLLM_API_KEY (the key itself never goes in this file)');
  }
  if (raw.apiKey !== undefined) fail(`${path}/apiKey`, 'secrets do not belong in this file; set apiKeyEnv to the name of an environment variable that holds the key');
  const fallback = raw.fallback;
  if (fallback !== undefined && typeof fallback !== 'string') fail(`${path}/fallback`, 'must name another upstream');

  return {
    name,
    baseUrl: baseUrl!.toString().replace(/\/+$/, ''),
    apiKeyEnv: apiKeyEnv as string | undefined,
    timeoutMs: integer(raw.timeoutMs ?? 60_000, `${path}/timeoutMs`, 1, 3_600_000, fail),
    retries: integer(raw.retries ?? 2, `${path}/retries`, 0, 10, fail),
    backoffMs: integer(raw.backoffMs ?? 200, `${path}/backoffMs`, 0, 60_000, fail),
    fallback: fallback as string | undefined,
  };
}

function parsePricing(value: unknown, path: string, fail: (path: string, message: string) => never): Pricing {
  if (value === undefined) return { kind: 'none' };
  const raw = asObject(value, path, fail);
  const decimal = (key: string): bigint => {
    const parsed = parseDecimal(raw[key]);
    if (parsed === undefined) fail(`${path}/${key}`, 'must be a non-negative decimal number with at most 12 decimal places, such as 0.0005');
    return parsed!;
  };
  if (raw.promptPer1k !== undefined || raw.completionPer1k !== undefined) {
    return { kind: 'per-token', promptPer1k: decimal('promptPer1k'), completionPer1k: decimal('completionPer1k') };
  }
  if (raw.gpuHourPrice !== undefined || raw.tokensPerSecond !== undefined) {
    const tokensPerSecond = decimal('tokensPerSecond');
    if (tokensPerSecond === 0n) fail(`${path}/tokensPerSecond`, 'must be greater than 0: the measured throughput of the server in tokens per second');
    return { kind: 'gpu', gpuHourPrice: decimal('gpuHourPrice'), tokensPerSecond };
  }
  return fail(path, 'must set promptPer1k and completionPer1k (hosted API) or gpuHourPrice and tokensPerSecond (self-hosted)');
}

function asObject(value: unknown, path: string, fail: (path: string, message: string) => never): Raw {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(path, 'must be a mapping');
  return value as Raw;
}

function integer(value: unknown, path: string, min: number, max: number, fail: (path: string, message: string) => never): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(path, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}
