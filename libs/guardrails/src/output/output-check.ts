/**
 * Output checks on model replies, for a whole reply or one that arrives in pieces (SSE deltas).
 * A check returns spans of the text: personal data to replace, and forbidden-topic matches that
 * are kept as they are but counted. Any span with `block` stops the reply.
 */

/** One span found by an output check, as a range [start, end) of the checked text. */
export interface OutputSpan {
  start: number;
  end: number;
  /** `pii` or `topic`. */
  guardrail: 'pii' | 'topic';
  /** Entity type or topic id: what the verdict counts, never the text. */
  label: string;
  /** Text that replaces the span in the reply; undefined keeps the span as it is. */
  replacement?: string;
  /** Whether the span stops the reply. */
  block: boolean;
}

export type OutputCheck = (text: string) => OutputSpan[];

/** Findings of an output check on a reply: counts per label for each guardrail, and whether it blocked. */
export interface OutputFindings {
  pii: Map<string, number>;
  topic: Map<string, number>;
  blocked: boolean;
  /** Guardrails with a blocking span. */
  blockedBy: Set<'pii' | 'topic'>;
}

export function emptyFindings(): OutputFindings {
  return { pii: new Map(), topic: new Map(), blocked: false, blockedBy: new Set() };
}

/** Applies the replacements of `spans` to `text`. Spans must not overlap when they have replacements. */
export function applyReplacements(text: string, spans: readonly OutputSpan[]): string {
  let result = '';
  let position = 0;
  for (const span of [...spans].filter((item) => item.replacement !== undefined).sort((a, b) => a.start - b.start)) {
    if (span.start < position) continue;
    result += text.slice(position, span.start) + span.replacement;
    position = span.end;
  }
  return result + text.slice(position);
}

/** Checks a whole reply: returns the text with replacements applied, or undefined when a span blocks it, and adds to `findings`. */
export function checkReplyText(text: string, check: OutputCheck, findings: OutputFindings): string | undefined {
  const spans = check(text);
  count(spans, findings);
  if (spans.some((span) => span.block)) {
    markBlocked(spans, findings);
    return undefined;
  }
  return applyReplacements(text, spans);
}

/**
 * Default tail held back from a stream, in UTF-16 units: longer than any personal-data value the
 * recognizers find (an IBAN with spaces is at most 42) and than a topic phrase (at most 120).
 * NOTE: a phrase padded with many invisible characters can exceed it and be split unseen.
 */
export const OUTPUT_HOLD_BACK = 256;

/** Text kept from what was already sent, so recognizers that need a label before a value ("account no.") still see it. */
const CONTEXT_LENGTH = 64;

/**
 * Checks a reply that arrives in pieces. Each push returns the text that is safe to send. The
 * last `holdBack` characters stay held, and so does any span that reaches into them. A value
 * split across pieces is therefore found whole before any part of it is sent. After a blocking span the
 * guard sends nothing more; the text sent before it had no blocking span.
 */
export class StreamingOutputGuard {
  private pending = '';
  private context = '';
  readonly findings: OutputFindings = emptyFindings();

  constructor(
    private readonly check: OutputCheck,
    private readonly holdBack = OUTPUT_HOLD_BACK,
  ) {}

  get blocked(): boolean {
    return this.findings.blocked;
  }

  push(piece: string): string {
    if (this.findings.blocked) return '';
    this.pending += piece;
    return this.release(false);
  }

  /** Checks and returns what is still held, at the end of the reply. */
  flush(): string {
    if (this.findings.blocked) return '';
    return this.release(true);
  }

  private release(all: boolean): string {
    const offset = this.context.length;
    const window = this.context + this.pending;
    const spans = this.check(window)
      .filter((span) => span.end > offset)
      .map((span) => ({ ...span, start: Math.max(0, span.start - offset), end: span.end - offset }));

    let cut = all ? this.pending.length : this.pending.length - this.holdBack;
    // Released text ends after whitespace where it can, so a client sees whole words in each delta.
    if (!all && cut > 0) {
      const boundary = lastWhitespaceBefore(this.pending, cut);
      if (boundary > 0) cut = boundary;
    }
    cut = cutBeforeSpans(spans, cut);
    if (cut > 0 && cut < this.pending.length && isLowSurrogate(this.pending.charCodeAt(cut))) cut -= 1;

    const released = spans.filter((span) => span.end <= cut);
    // A blocking span stops the reply as soon as it is seen, even while it is still held.
    if (spans.some((span) => span.block)) {
      count(spans.filter((span) => span.block), this.findings);
      markBlocked(spans, this.findings);
      this.pending = '';
      return '';
    }
    if (cut <= 0) return '';
    count(released, this.findings);
    const text = this.pending.slice(0, cut);
    this.context = (this.context + text).slice(-CONTEXT_LENGTH);
    this.pending = this.pending.slice(cut);
    return applyReplacements(text, released);
  }
}

function count(spans: readonly OutputSpan[], findings: OutputFindings): void {
  for (const span of spans) {
    const counts = findings[span.guardrail];
    counts.set(span.label, (counts.get(span.label) ?? 0) + 1);
  }
}

function markBlocked(spans: readonly OutputSpan[], findings: OutputFindings): void {
  findings.blocked = true;
  for (const span of spans) if (span.block) findings.blockedBy.add(span.guardrail);
}

/** Moves `cut` back to the start of every span that crosses it, until none does. */
function cutBeforeSpans(spans: readonly OutputSpan[], cut: number): number {
  let moved = true;
  while (moved) {
    moved = false;
    for (const span of spans) {
      if (span.start < cut && span.end > cut) {
        cut = span.start;
        moved = true;
      }
    }
  }
  return cut;
}

/** Index just after the last whitespace character before `end`, or 0 when there is none. */
function lastWhitespaceBefore(text: string, end: number): number {
  for (let index = end - 1; index >= 0; index -= 1) {
    const code = text.charCodeAt(index);
    if (code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d) return index + 1;
  }
  return 0;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
