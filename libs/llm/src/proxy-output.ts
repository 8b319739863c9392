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
 * Checks and restores `choices[].message.content` of a JSON chat completion in place. The check
 * runs on the reply as the upstream sent it, before placeholders are restored, so the caller's
 * own values coming back as placeholders are never taken for new personal data.
 */
export function guardCompletion(body: Record<string, unknown>, guard: ReplyGuard): void {
  const choices = Array.isArray(body.choices) ? (body.choices as { index?: unknown; message?: { content?: unknown }; finish_reason?: unknown }[]) : [];
  choices.forEach((choice, position) => {
    if (typeof choice?.message?.content !== 'string') return;
    const index = typeof choice.index === 'number' ? choice.index : position;
    let content: string | undefined = choice.message.content;
    if (guard.check) {
      const findings = emptyFindings();
      content = checkReplyText(content, guard.check, findings);
      pushOutputVerdicts(guard, `choices[${index}]`, findings);
    }
    if (content === undefined) {
      choice.message.content = '';
      choice.finish_reason = CONTENT_FILTER;
      return;
    }
    choice.message.content = guard.restoreMap ? restorePlaceholders(content, guard.restoreMap) : content;
  });
}

/**
 * Checks and restores streamed deltas, one StreamingOutputGuard and one StreamingRestorer per
 * choice index, because a value or a placeholder can be split across chunks. Held text is
 * released on the choice's finish_reason or by flushAll before the usage chunk and [DONE]. A
 * choice that an output guardrail blocks sends no more content and ends with finish_reason
 * content_filter.
 */
export class ChoiceFilters {
  private readonly choices = new Map<number, { guard?: StreamingOutputGuard; restorer?: StreamingRestorer; recorded: boolean; finished: boolean }>();

  constructor(private readonly reply: ReplyGuard) {}

  /** Checks and restores the content of every choice of `chunk` in place. */
  filterChunk(chunk: Record<string, unknown>): void {
    const choices = Array.isArray(chunk.choices) ? (chunk.choices as { index?: unknown; delta?: Record<string, unknown>; finish_reason?: unknown }[]) : [];
    for (const choice of choices) {
      if (typeof choice !== 'object' || choice === null) continue;
      const index = typeof choice.index === 'number' ? choice.index : 0;
      const state = this.state(index);
      const delta = choice.delta;
      let content = typeof delta?.content === 'string' ? this.pass(state, state.guard ? state.guard.push(delta.content) : delta.content) : undefined;
      if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
        const rest = this.release(index);
        if (rest.length > 0) content = (content ?? '') + rest;
        if (state.guard?.blocked) choice.finish_reason = CONTENT_FILTER;
        state.finished = true;
      }
      if (content !== undefined && delta) delta.content = content;
      else if (content !== undefined) choice.delta = { content };
    }
  }

  /** Releases the text still held back, per choice index; `blocked` marks choices an output guardrail stopped. */
  flushAll(): { index: number; content: string; blocked: boolean }[] {
    const open = [...this.choices].filter(([, state]) => !state.finished).map(([index]) => index);
    const pending = open.map((index) => {
      const content = this.release(index);
      return { index, content, blocked: this.choices.get(index)!.guard?.blocked === true };
    });
    return pending.filter((entry) => entry.content.length > 0 || entry.blocked);
  }

  /** Records the verdicts of choices whose reply has not ended, such as when the stream failed. */
  recordVerdicts(): void {
    for (const index of this.choices.keys()) this.recordChoice(index);
  }

  private release(index: number): string {
    const state = this.choices.get(index);
    if (!state) return '';
    const checked = state.guard ? state.guard.flush() : '';
    const restored = this.pass(state, checked) + (state.restorer?.flush() ?? '');
    this.recordChoice(index);
    return restored;
  }

  private pass(state: { restorer?: StreamingRestorer }, text: string): string {
    return state.restorer ? state.restorer.push(text) : text;
  }

  private recordChoice(index: number): void {
    const state = this.choices.get(index);
    if (!state?.guard || state.recorded) return;
    state.recorded = true;
    pushOutputVerdicts(this.reply, `choices[${index}]`, state.guard.findings);
  }

  private state(index: number) {
    let state = this.choices.get(index);
    if (!state) {
      state = {
        guard: this.reply.check ? new StreamingOutputGuard(this.reply.check) : undefined,
        restorer: this.reply.restoreMap ? new StreamingRestorer(this.reply.restoreMap) : undefined,
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
