import {
  checkReplyText,
  emptyFindings,
  restorePlaceholders,
  StreamingOutputGuard,
  StreamingRestorer,
  type OutputCheck,
  type OutputFindings,
  type PlaceholderMap,
} from '../../guardrails/src/index.js';
import type { ProxyGuardrailVerdict } from './proxy-guardrails.js';
import { isObject, isProtocolKey, mapStrings } from './proxy-redaction.js';

/** Reply check and placeholder restoration of one call. */
export interface ReplyGuard {
  /** Output check (personal data and forbidden topics); undefined when the use case checks neither. */
  check: OutputCheck | undefined;
  /** Placeholders to restore; undefined when the caller gets them as they are. */
  restoreMap: PlaceholderMap | undefined;
  /** Receives the verdicts of each choice once its reply has been checked. */
  verdicts: ProxyGuardrailVerdict[];
  /** Whether the use case checks output personal data and topics, so pass verdicts are recorded only for checks that ran. */
  checksPii: boolean;
  checksTopics: boolean;
}

/** Label of the span an output check returns when the personal-data scanner failed; its verdict is `error`. */
export const OUTPUT_SCANNER_ERROR = 'scanner failed';

/** finish_reason of a choice whose reply an output guardrail withheld, as OpenAI reports its own content filter. */
export const CONTENT_FILTER = 'content_filter';

/**
 * Checks and restores every string of each `choices[].message` of a JSON chat completion in
 * place: content, tool call and function call arguments (as JSON, numbers included), refusal,
 * reasoning and audio transcripts, everything but protocol identifiers. The check runs on the
 * reply as the upstream sent it, before placeholders are restored, so the caller's own values
 * coming back as placeholders are never taken for new personal data. A blocking span anywhere
 * withholds the whole message and ends the choice with content_filter.
 */
export function guardCompletion(body: Record<string, unknown>, guard: ReplyGuard): void {
  const choices = Array.isArray(body.choices) ? (body.choices as { index?: unknown; message?: unknown; finish_reason?: unknown }[]) : [];
  choices.forEach((choice, position) => {
    if (!isObject(choice) || !isObject(choice.message)) return;
    const index = typeof choice.index === 'number' ? choice.index : position;
    const findings = emptyFindings();
    const guarded = mapStrings(choice.message, replyText(guard, findings)) as Record<string, unknown>;
    if (guard.check) pushOutputVerdicts(guard, `choices[${index}]`, findings);
    if (findings.blocked) {
      choice.message = { role: choice.message.role ?? 'assistant', content: '' };
      choice.finish_reason = CONTENT_FILTER;
      return;
    }
    choice.message = guarded;
  });
}

/** Checks and restores one string of a reply, adding to `findings`; after a block it returns an empty string, because the reply is withheld. */
function replyText(guard: ReplyGuard, findings: OutputFindings): (text: string) => string {
  return (text) => {
    if (findings.blocked) return '';
    const checked = guard.check ? checkReplyText(text, guard.check, findings) : text;
    if (checked === undefined) return '';
    return guard.restoreMap ? restorePlaceholders(checked, guard.restoreMap) : checked;
  };
}

/**
 * Merges a streamed delta into `target` as the OpenAI clients do. Strings are appended, but
 * protocol identifiers and function names replace the earlier value. Tool calls are matched by `index`.
 */
function mergeDelta(target: Record<string, unknown>, delta: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(delta)) {
    const current = target[key];
    if (typeof value === 'string') {
      target[key] = typeof current === 'string' && !isProtocolKey(key) && key !== 'name' ? current + value : value;
    } else if (Array.isArray(value)) {
      const list = Array.isArray(current) ? current : [];
      for (const item of value) {
        const existing = isObject(item) && typeof item.index === 'number' ? list.find((entry) => isObject(entry) && entry.index === item.index) : undefined;
        if (isObject(existing) && isObject(item)) mergeDelta(existing, item);
        else if (isObject(item)) {
          const copy: Record<string, unknown> = {};
          mergeDelta(copy, item);
          list.push(copy);
        } else list.push(item);
      }
      target[key] = list;
    } else if (isObject(value)) {
      const merged = isObject(current) ? current : {};
      mergeDelta(merged, value);
      target[key] = merged;
    } else target[key] = value;
  }
}

/**
 * Checks and restores streamed deltas, one StreamingOutputGuard and one StreamingRestorer per
 * choice index, because a value or a placeholder can be split across chunks. Every other field of
 * a delta (tool calls, function call, refusal, reasoning, audio) is merged and held whole until
 * the choice ends. It is then checked like a JSON reply and sent after the content still held, so
 * tool calls never overtake content. Held text is released on the choice's finish_reason or by
 * flushAll before the usage chunk and [DONE]. A choice that an output guardrail blocks sends no
 * more content and ends with finish_reason content_filter.
 * NOTE: holding these fields means a reasoning model's reasoning text reaches the caller only
 * when the choice ends.
 */
export class ChoiceFilters {
  private readonly choices = new Map<
    number,
    { guard?: StreamingOutputGuard; restorer?: StreamingRestorer; held: Record<string, unknown>; findings: OutputFindings; recorded: boolean; finished: boolean }
  >();

  constructor(private readonly reply: ReplyGuard) {}

  /** Checks and restores the content of every choice of `chunk` in place. */
  filterChunk(chunk: Record<string, unknown>): void {
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as { index?: unknown; delta?: Record<string, unknown>; finish_reason?: unknown }[]) : [];
    for (const choice of choices) {
      if (typeof choice !== 'object' || choice === null) continue;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const state = this.state(index);
      const delta = isObject(choice.delta) ? choice.delta : undefined;
      const heldKeys = delta ? Object.keys(delta).filter((key) => key !== 'role' && key !== 'content') : [];
      if (delta && heldKeys.length > 0) {
        mergeDelta(state.held, Object.fromEntries(heldKeys.map((key) => [key, delta[key]])));
        for (const key of heldKeys) delete delta[key];
      }
      let content = typeof delta?.content === 'string' ? this.pass(state, state.guard ? state.guard.push(delta.content) : delta.content) : undefined;
      let fields: Record<string, unknown> = {};
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        const rest = this.release(index);
        if (rest.content.length > 0) content = (content ?? '') + rest.content;
        fields = rest.fields;
        if (state.findings.blocked) choice.finish_reason = CONTENT_FILTER;
        state.finished = true;
      }
      if (content !== undefined || Object.keys(fields).length > 0) {
        const target = isObject(choice.delta) ? choice.delta : (choice.delta = {});
        if (content !== undefined) target.content = content;
        Object.assign(target, fields);
      }
    }
  }

  /**
   * Releases the text and fields still held back, per choice index; `blocked` marks choices an
   * output guardrail stopped.
   */
  flushAll(): { index: number; content: string; fields: Record<string, unknown>; blocked: boolean }[] {
    const open = [...this.choices].filter(([, state]) => !state.finished).map(([index]) => index);
    const pending = open.map((index) => {
      const { content, fields } = this.release(index);
      return { index, content, fields, blocked: this.choices.get(index)!.findings.blocked };
    });
    return pending.filter((entry) => entry.content.length > 0 || Object.keys(entry.fields).length > 0 || entry.blocked);
  }

  /** Records the verdicts of choices whose reply has not ended, such as when the stream failed. */
  recordVerdicts(): void {
    for (const index of this.choices.keys()) this.recordChoice(index);
  }

  /** Checks the held fields first, so a block found in them also withholds the content still held. */
  private release(index: number): { content: string; fields: Record<string, unknown> } {
    const state = this.choices.get(index);
    if (!state) return { content: '', fields: {} };
    let fields = mapStrings(state.held, replyText(this.reply, state.findings)) as Record<string, unknown>;
    state.held = {};
    if (state.findings.blocked) fields = {};
    const checked = state.guard ? state.guard.flush() : '';
    const restored = this.pass(state, checked) + (state.restorer?.flush() ?? '');
    this.recordChoice(index);
    return { content: restored, fields };
  }

  private pass(state: { restorer?: StreamingRestorer }, text: string): string {
    return state.restorer ? state.restorer.push(text) : text;
  }

  private recordChoice(index: number): void {
    const state = this.choices.get(index);
    if (!state?.guard || state.recorded) return;
    state.recorded = true;
    pushOutputVerdicts(this.reply, `choices[${index}]`, state.findings);
  }

  private state(index: number) {
    let state = this.choices.get(index);
    if (!state) {
      const guard = this.reply.check ? new StreamingOutputGuard(this.reply.check) : undefined;
      state = {
        guard,
        restorer: this.reply.restoreMap ? new StreamingRestorer(this.reply.restoreMap) : undefined,
        held: {},
        // The held fields add to the content guard's findings, so each choice gets one verdict per guardrail.
        findings: guard ? guard.findings : emptyFindings(),
        recorded: false,
        finished: false,
      };
      this.choices.set(index, state);
    }
    return state;
  }
}

/** Records one verdict per output guardrail that ran on a choice (output-pii, topic), never merged. */
function pushOutputVerdicts(guard: ReplyGuard, target: string, findings: OutputFindings): void {
  if (guard.checksPii) guard.verdicts.push({ guardrail: 'output-pii', target, ...verdictOf(findings.pii, findings.blockedBy.has('pii')) });
  if (guard.checksTopics) guard.verdicts.push({ guardrail: 'topic', target, ...verdictOf(findings.topic, findings.blockedBy.has('topic')) });
}

function verdictOf(counts: Map<string, number>, blocked: boolean): { verdict: 'pass' | 'flag' | 'block' | 'error'; detail: string } {
  if (counts.size === 0) return { verdict: 'pass', detail: 'none' };
  if (counts.has(OUTPUT_SCANNER_ERROR)) return { verdict: 'error', detail: OUTPUT_SCANNER_ERROR };
  const detail = [...counts].map(([label, count]) => `${label}x${count}`).join(', ');
  return { verdict: blocked ? 'block' : 'flag', detail };
}
