import type { PiiEntityType, PiiFinding } from './pii/index.js';
import { canonicalPiiValue } from './pii/normalize.js';

/**
 * Typed placeholders: personal data replaced by `<IBAN_1>`, `<EMAIL_ADDRESS_2>` and so on, so an
 * LLM still sees what kind of value stood there and can refer to it, while the value itself never
 * leaves Warden. The same value gets the same placeholder within one map, and the map restores the
 * values in the model's reply for a caller who may see them.
 */

/** `<`, an entity type in capitals and underscores, `_`, a counter, `>`. */
const PLACEHOLDER = /<([A-Z][A-Z_]*)_(\d{1,6})>/g;

/** Longest placeholder that can occur: the longest entity type plus a six-digit counter. */
export const MAX_PLACEHOLDER_LENGTH = '<ABA_ROUTING_NUMBER_999999>'.length;

export interface PlaceholderEntry {
  placeholder: string;
  entityType: PiiEntityType;
  value: string;
}

/** The placeholders of one request (or conversation): value to placeholder and back. */
export class PlaceholderMap {
  private readonly byKey = new Map<string, PlaceholderEntry>();
  private readonly byPlaceholder = new Map<string, PlaceholderEntry>();
  private readonly counters = new Map<string, number>();

  constructor(entries: readonly PlaceholderEntry[] = []) {
    for (const entry of entries) this.add(entry);
  }

  /** Returns the placeholder of `value`, creating `<TYPE_n>` with the next counter of that type when it is new. */
  placeholderFor(entityType: PiiEntityType, value: string): string {
    const key = `${entityType}\u0000${normalize(value)}`;
    const known = this.byKey.get(key);
    if (known) return known.placeholder;
    const next = (this.counters.get(entityType) ?? 0) + 1;
    const entry = { placeholder: `<${entityType}_${next}>`, entityType, value };
    this.add(entry);
    return entry.placeholder;
  }

  valueOf(placeholder: string): string | undefined {
    return this.byPlaceholder.get(placeholder)?.value;
  }

  entries(): PlaceholderEntry[] {
    return [...this.byPlaceholder.values()];
  }

  get size(): number {
    return this.byPlaceholder.size;
  }

  private add(entry: PlaceholderEntry): void {
    this.byKey.set(`${entry.entityType}\u0000${normalize(entry.value)}`, entry);
    this.byPlaceholder.set(entry.placeholder, entry);
    const counter = Number(/_(\d+)>$/.exec(entry.placeholder)?.[1] ?? 0);
    this.counters.set(entry.entityType, Math.max(this.counters.get(entry.entityType) ?? 0, counter));
  }
}

/** Spacing, character width and case do not change a value's identity: "DE89 3704..." and "de893704..." share a placeholder. */
function normalize(value: string): string {
  return canonicalPiiValue(value);
}

/** Replaces every finding in `text` by its placeholder in `map`. Findings must not overlap (scanPii resolves overlaps). */
export function redactWithPlaceholders(text: string, findings: readonly PiiFinding[], map: PlaceholderMap): string {
  let result = '';
  let position = 0;
  for (const finding of [...findings].sort((left, right) => left.start - right.start)) {
    result += text.slice(position, finding.start) + map.placeholderFor(finding.entityType, text.slice(finding.start, finding.end));
    position = finding.end;
  }
  return result + text.slice(position);
}

/** Puts the original values back for every placeholder that `map` knows; unknown placeholders stay as they are. */
export function restorePlaceholders(text: string, map: PlaceholderMap): string {
  return text.replace(PLACEHOLDER, (placeholder) => map.valueOf(placeholder) ?? placeholder);
}

/**
 * Restores placeholders in a reply that arrives in pieces, such as the deltas of an SSE stream,
 * where `<IBAN_1>` may be split as `<IB` + `AN_1>`. Each push returns the text that is safe to
 * send on; a tail that could still grow into a placeholder is held back until the next piece
 * decides it, so no caller ever sees half a placeholder or half a value.
 */
export class StreamingRestorer {
  private pending = '';

  constructor(private readonly map: PlaceholderMap) {}

  push(piece: string): string {
    const text = this.pending + piece;
    const held = heldBackFrom(text);
    this.pending = text.slice(held);
    return restorePlaceholders(text.slice(0, held), this.map);
  }

  /** Returns what is still held back, at the end of the stream. */
  flush(): string {
    const rest = restorePlaceholders(this.pending, this.map);
    this.pending = '';
    return rest;
  }
}

/** Index from which `text` may be the beginning of a placeholder that is not complete yet. */
function heldBackFrom(text: string): number {
  const start = text.lastIndexOf('<');
  if (start === -1 || text.length - start >= MAX_PLACEHOLDER_LENGTH) return text.length;
  const tail = text.slice(start);
  return /^<(?:[A-Z][A-Z_]*(?:_\d{0,6})?)?$/.test(tail) ? start : text.length;
}
