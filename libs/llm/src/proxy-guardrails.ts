import { randomUUID } from 'node:crypto';
import { FailedPreconditionError, getLogger } from '../../common/src/index.js';
import {
  detectInjection,
  PlaceholderMap,
  redactText,
  redactWithPlaceholders,
  restorePlaceholders,
  scanPii,
  StreamingRestorer,
  type InjectionRuleSet,
  type InjectionSource,
  type PiiFinding,
  type PlaceholderVault,
} from '../../guardrails/src/index.js';
import type { ProxyGuardrailConfig, ProxyGuardrailSettings } from './guardrail-config.js';
import { LlmError } from './openai-error.js';

/** One guardrail's verdict on one target of a call, as the `llm.call` ledger entry stores it: entity types and counts or rule names, never text. */
export interface ProxyGuardrailVerdict {
  guardrail: 'pii' | 'injection';
  /** `messages` (every message's text), `vault`, or one message such as `messages[2]`. */
  target: string;
  verdict: 'pass' | 'flag' | 'block' | 'error';
  detail: string;
}

/** Finds personal data in a text; injectable so tests can make it fail. */
export type PiiScanner = (text: string) => PiiFinding[];

/** The request that goes upstream, and how the reply is restored for this caller. */
export interface GuardedChat {
  body: Record<string, unknown>;
  /** Placeholders to restore in the reply; undefined when the caller gets the reply as the upstream sent it. */
  restoreMap: PlaceholderMap | undefined;
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
  /** Environment that the HMAC key of hash mode is read from. */
  env: NodeJS.ProcessEnv;
}

/** Raised with the call's outcome `blocked`: the request was not sent upstream. */
export class GuardrailBlock extends LlmError {}

/**
 * PII redaction and prompt-injection detection on the chat path of the proxy. Before a request
 * goes upstream, the text of every message (string content and text parts) is scanned and each
 * finding replaced by a placeholder, a mask or a keyed hash, and every system, user and tool
 * message is checked for injection. The scanner fails closed unless the use case sets onScannerError: flag.
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

  /** Redacts a chat request and checks it for injection. Raises GuardrailBlock when it must not go upstream. */
  async guardChat(call: GuardedCall, body: Record<string, unknown>): Promise<GuardedChat> {
    const settings = this.settingsFor(call.useCase);
    const messages = body.messages as unknown[];
    const map = new PlaceholderMap();
    let guarded = messages;

    if (settings.pii !== 'off') {
      try {
        const counts = new Map<string, number>();
        guarded = messages.map((message) => this.redactMessage(message, settings, map, counts));
        call.verdicts.push({ guardrail: 'pii', target: 'messages', verdict: counts.size > 0 ? 'flag' : 'pass', detail: describeCounts(counts) });
      } catch (error) {
        // The error may quote the scanned text, so only its class is logged.
        this.log.error({ errorName: (error as Error)?.name, useCase: call.useCase, action: settings.onScannerError }, 'PII scanner failed on a chat request');
        call.verdicts.push({ guardrail: 'pii', target: 'messages', verdict: 'error', detail: 'scanner failed' });
        if (settings.onScannerError === 'block') {
          throw new GuardrailBlock(503, 'server_error', 'guardrail_unavailable', 'The personal-data scanner failed, so the request was not sent upstream. Retry later.');
        }
        guarded = messages;
      }
    }

    this.judgeInjection(call, guarded);

    const placeholderScope = await this.storePlaceholders(call, map);
    const restoreMap = settings.pii === 'placeholder' && settings.restore && map.size > 0 && call.mayRestore() ? map : undefined;
    return { body: { ...body, messages: guarded }, restoreMap, placeholderScope };
  }

  /**
   * Judges every system and user message with user strictness, and tool messages with retrieved
   * strictness because they carry outside content. Assistant messages are skipped, because retrieved
   * strictness would flag ordinary model replies. Every verdict is recorded before a block is raised.
   */
  private judgeInjection(call: GuardedCall, messages: unknown[]): void {
    const blocked: string[] = [];
    messages.forEach((message, index) => {
      const source = injectionSourceFor((message as { role?: unknown } | null)?.role);
      if (source === undefined) return;
      const target = `messages[${index}]`;
      const injection = detectInjection(messageText(message), this.options.injectionRules, source);
      const rules = [...new Set(injection.signals.map((signal) => signal.rule))];
      const detail = `score ${injection.score.toFixed(3)}${rules.length > 0 ? `; rules ${rules.join(', ')}` : ''}`;
      call.verdicts.push({ guardrail: 'injection', target, verdict: injection.verdict, detail });
      if (injection.verdict === 'block') blocked.push(target);
    });
    if (blocked.length > 0) {
      throw new GuardrailBlock(
        400,
        'invalid_request_error',
        'prompt_injection_detected',
        `The prompt-injection guardrail rejected ${blocked.join(', ')}. Remove instructions that try to change the model’s rules or reveal its prompt.`,
        'messages',
      );
    }
  }

  private redactMessage(message: unknown, settings: ProxyGuardrailSettings, map: PlaceholderMap, counts: Map<string, number>): unknown {
    if (typeof message !== 'object' || message === null) return message;
    const record = message as Record<string, unknown>;
    const redact = (text: string): string => {
      const scan = this.options.scanner ?? scanPii;
      const findings = scan(text);
      for (const finding of findings) counts.set(finding.entityType, (counts.get(finding.entityType) ?? 0) + 1);
      if (findings.length === 0) return text;
      if (settings.pii === 'placeholder') return redactWithPlaceholders(text, findings, map);
      return redactText(text, findings, { mode: settings.pii === 'hash' ? 'hash' : 'mask', hashKey: this.hashKey });
    };
    if (typeof record.content === 'string') return { ...record, content: redact(record.content) };
    if (Array.isArray(record.content)) {
      const parts = record.content.map((part) => {
        const textPart = part as { type?: unknown; text?: unknown } | null;
        return textPart?.type === 'text' && typeof textPart.text === 'string' ? { ...textPart, text: redact(textPart.text) } : part;
      });
      return { ...record, content: parts };
    }
    // NOTE: tool call arguments and other fields are forwarded unscanned; only content text is redacted.
    return record;
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

/** Restores placeholders in `choices[].message.content` of a JSON chat completion, in place. */
export function restoreCompletion(body: Record<string, unknown>, map: PlaceholderMap): void {
  const choices = Array.isArray(body.choices) ? (body.choices as { message?: { content?: unknown } }[]) : [];
  for (const choice of choices) {
    if (typeof choice?.message?.content === 'string') choice.message.content = restorePlaceholders(choice.message.content, map);
  }
}

/**
 * Restores placeholders in streamed deltas, one StreamingRestorer per choice index, because a
 * placeholder can be split across chunks. Held text is released on the choice's finish_reason or
 * by flushAll before the usage chunk and [DONE].
 */
export class ChoiceRestorers {
  private readonly restorers = new Map<number, StreamingRestorer>();

  constructor(private readonly map: PlaceholderMap) {}

  /** Restores the content of every choice of `chunk` in place. */
  restoreChunk(chunk: Record<string, unknown>): void {
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as { index?: unknown; delta?: Record<string, unknown>; finish_reason?: unknown }[]) : [];
    for (const choice of choices) {
      if (typeof choice !== 'object' || choice === null) continue;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const delta = choice.delta;
      let content = typeof delta?.content === 'string' ? this.restorer(index).push(delta.content) : undefined;
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        const rest = this.restorers.get(index)?.flush() ?? '';
        if (rest.length > 0) content = (content ?? '') + rest;
      }
      if (content !== undefined && delta) delta.content = content;
      else if (content !== undefined) choice.delta = { content };
    }
  }

  /** Releases the text still held back, per choice index, and forgets it. */
  flushAll(): { index: number; content: string }[] {
    const pending = [...this.restorers].map(([index, restorer]) => ({ index, content: restorer.flush() }));
    return pending.filter((entry) => entry.content.length > 0);
  }

  private restorer(index: number): StreamingRestorer {
    let restorer = this.restorers.get(index);
    if (!restorer) {
      restorer = new StreamingRestorer(this.map);
      this.restorers.set(index, restorer);
    }
    return restorer;
  }
}

/** How strictly a message of `role` is judged for injection; undefined for roles that are not judged (assistant). */
function injectionSourceFor(role: unknown): InjectionSource | undefined {
  if (role === 'user' || role === 'system' || role === 'developer') return 'user';
  if (role === 'tool' || role === 'function') return 'retrieved';
  return undefined;
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
