import { scanPii } from './pii/index.js';
import { redactText } from './redaction.js';

/** Texts shorter than this cannot contain any entity the recognizers find, so they skip the scan. */
const MIN_SCANNED_LENGTH = 6;

/**
 * Masks every personal-data finding in a text, for places that keep free text but must not keep
 * personal data: log lines, error messages and review rationales.
 */
export function scrubPii(text: string): string {
  if (text.length < MIN_SCANNED_LENGTH) return text;
  return redactText(text, scanPii(text), { mode: 'mask' });
}
