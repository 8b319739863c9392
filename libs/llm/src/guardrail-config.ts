import { USE_CASE_PATTERN } from './request-validation.js';

/**
 * The `guardrails` section of the upstreams file: how the proxy treats personal data in chat
 * prompts, for all calls and per use case (header X-Warden-Use-Case).
 */

/**
 * - `placeholder`: findings become typed placeholders such as `<IBAN_1>`, kept in the encrypted
 *   vault so a permitted caller gets the original values back in the reply.
 * - `mask`: findings become their entity type, such as `[IBAN]`.
 * - `hash`: findings become their entity type and a keyed hash (HMAC-SHA256).
 * - `off`: prompts go upstream unchanged.
 */
export type ProxyPiiMode = 'placeholder' | 'mask' | 'hash' | 'off';

/** Action on a PII scanner failure: `block` sends nothing upstream, and `flag` forwards the prompt unchanged and records the failure. */
export type ScannerErrorAction = 'block' | 'flag';

/**
 * Personal data in a model reply that was not a placeholder of the caller's own input: `mask`
 * replaces it with its entity type, `block` withholds the reply (finish_reason content_filter),
 * `off` leaves it.
 */
export type OutputPiiAction = 'mask' | 'block' | 'off';

export interface ProxyGuardrailSettings {
  pii: ProxyPiiMode;
  outputPii: OutputPiiAction;
  /** Whether placeholders in replies are restored for callers with the grant `guardrail restore`. */
  restore: boolean;
  onScannerError: ScannerErrorAction;
}

export interface ProxyGuardrailConfig {
  /** Settings of calls whose use case has no entry in useCases. */
  defaults: ProxyGuardrailSettings;
  /** Per use case; each entry starts from the defaults and overrides what it sets. */
  useCases: Map<string, ProxyGuardrailSettings>;
  /** Environment variable that holds the HMAC key of `hash` mode; the key never sits in the file. */
  hashKeyEnv: string | undefined;
}

export const DEFAULT_PROXY_GUARDRAILS: ProxyGuardrailSettings = { pii: 'placeholder', outputPii: 'mask', restore: true, onScannerError: 'block' };

const PII_MODES: readonly ProxyPiiMode[] = ['placeholder', 'mask', 'hash', 'off'];
const OUTPUT_PII_ACTIONS: readonly OutputPiiAction[] = ['mask', 'block', 'off'];
const SCANNER_ERROR_ACTIONS: readonly ScannerErrorAction[] = ['block', 'flag'];
const ENV_PATTERN = /^[A-Z_][A-Z0-9_]{0,127}$/;

type Fail = (path: string, message: string) => never;

/** Validates the optional `guardrails` section; an absent section means placeholder, output mask, restore and block. */
export function parseGuardrailConfig(value: unknown, fail: Fail): ProxyGuardrailConfig {
  if (value === undefined) return { defaults: DEFAULT_PROXY_GUARDRAILS, useCases: new Map(), hashKeyEnv: undefined };
  const raw = mapping(value, '/guardrails', fail);

  const hashKeyEnv = raw.hashKeyEnv;
  if (hashKeyEnv !== undefined && (typeof hashKeyEnv !== 'string' || !ENV_PATTERN.test(hashKeyEnv))) {
    fail('/guardrails/hashKeyEnv', 'must be the name of an environment variable, such as WARDEN_PII_HASH_KEY (the key itself never goes in this file)');
  }
  if (raw.hashKey !== undefined) fail('/guardrails/hashKey', 'secrets do not belong in this file; set hashKeyEnv to the name of an environment variable that holds the key');

  const defaults = parseSettings(raw, '/guardrails', DEFAULT_PROXY_GUARDRAILS, fail);
  const useCases = new Map<string, ProxyGuardrailSettings>();
  if (raw.useCases !== undefined) {
    for (const [name, entry] of Object.entries(mapping(raw.useCases, '/guardrails/useCases', fail))) {
      const path = `/guardrails/useCases/${name}`;
      if (!USE_CASE_PATTERN.test(name)) fail(path, 'use case names are 1 to 64 letters, digits, dot, underscore or hyphen, starting with a letter or digit');
      useCases.set(name, parseSettings(mapping(entry, path, fail), path, defaults, fail));
    }
  }

  const usesHash = defaults.pii === 'hash' || [...useCases.values()].some((settings) => settings.pii === 'hash');
  if (usesHash && hashKeyEnv === undefined) {
    fail('/guardrails/hashKeyEnv', 'is required when pii is hash: name the environment variable that holds the HMAC key, or choose placeholder or mask');
  }
  return { defaults, useCases, hashKeyEnv: hashKeyEnv as string | undefined };
}

function parseSettings(raw: Record<string, unknown>, path: string, base: ProxyGuardrailSettings, fail: Fail): ProxyGuardrailSettings {
  const pii = raw.pii ?? base.pii;
  if (!PII_MODES.includes(pii as ProxyPiiMode)) fail(`${path}/pii`, `must be one of ${PII_MODES.join(', ')}, got ${JSON.stringify(pii)}`);
  const outputPii = raw.outputPii ?? base.outputPii;
  if (!OUTPUT_PII_ACTIONS.includes(outputPii as OutputPiiAction)) fail(`${path}/outputPii`, `must be one of ${OUTPUT_PII_ACTIONS.join(', ')}, got ${JSON.stringify(outputPii)}`);
  const restore = raw.restore ?? base.restore;
  if (typeof restore !== 'boolean') fail(`${path}/restore`, 'must be true or false');
  const onScannerError = raw.onScannerError ?? base.onScannerError;
  if (!SCANNER_ERROR_ACTIONS.includes(onScannerError as ScannerErrorAction)) {
    fail(`${path}/onScannerError`, `must be block (send nothing upstream) or flag (forward and record), got ${JSON.stringify(onScannerError)}`);
  }
  return { pii: pii as ProxyPiiMode, outputPii: outputPii as OutputPiiAction, restore: restore as boolean, onScannerError: onScannerError as ScannerErrorAction };
}

function mapping(value: unknown, path: string, fail: Fail): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail(path, 'must be a mapping');
  return value as Record<string, unknown>;
}
