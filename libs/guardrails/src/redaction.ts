import { createHmac } from 'node:crypto';
import type { PiiFinding } from './pii/index.js';
import { canonicalPiiValue } from './pii/normalize.js';

/**
 * The replacement of a finding:
 * - `mask`: by its entity type, such as `[IBAN]`; nothing of the value remains.
 * - `hash`: by its entity type and a keyed hash, such as `[IBAN:3f0c9a1b2d4e5f60]`, so equal values
 *   stay comparable across records without revealing them. The key must stay secret: without it,
 *   short values such as SSNs could be recovered by trying every candidate.
 */
export type RedactionMode = 'mask' | 'hash';

export interface RedactionOptions {
  mode: RedactionMode;
  /** HMAC-SHA256 key for `hash` mode. */
  hashKey?: string;
}

/** Hex characters of the keyed hash kept in `hash` mode: 64 bits, enough to tell values apart. */
const HASH_HEX_LENGTH = 16;

/**
 * Replaces every finding in `text` and returns the new text. Findings must not overlap (scanPii
 * resolves overlaps); they are applied from the end so earlier offsets stay valid.
 */
export function redactText(text: string, findings: readonly PiiFinding[], options: RedactionOptions): string {
  if (findings.length === 0) return text;
  if (options.mode === 'hash' && !options.hashKey) throw new Error('redactText: hash mode needs a hashKey');
  let result = text;
  for (const finding of [...findings].sort((left, right) => right.start - left.start)) {
    const value = text.slice(finding.start, finding.end);
    result = result.slice(0, finding.start) + replacement(finding, value, options) + result.slice(finding.end);
  }
  return result;
}

function replacement(finding: PiiFinding, value: string, options: RedactionOptions): string {
  if (options.mode === 'mask') return `[${finding.entityType}]`;
  // Separators, character width and case do not change the identity of a value: "DE89 3704...",
  // "DE893704..." and its full-width form hash alike.
  const normalized = canonicalPiiValue(value);
  const digest = createHmac('sha256', options.hashKey!).update(`${finding.entityType}:${normalized}`).digest('hex');
  return `[${finding.entityType}:${digest.slice(0, HASH_HEX_LENGTH)}]`;
}
