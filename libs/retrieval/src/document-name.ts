import type { FieldError } from '../../common/src/index.js';
import { countsInIdentifier, scanPii, scanPiiAcrossUnderscores } from '../../guardrails/src/index.js';

export const MAX_DOCUMENT_NAME_LENGTH = 200;

/** Control characters and line or paragraph separators. PostgreSQL cuts a name at a NUL, so it could replace another document. */
const CONTROL = /[\p{Cc}\u2028\u2029]/u;
/** Bidirectional embeddings, overrides and isolates, which make a name display differently from what it is. */
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/u;

/**
 * Returns a field error when `name` is not a valid document name, without quoting it. Document names
 * appear in citations, search results and the ledger, so they must not contain personal data or
 * characters that change how they display.
 */
export function checkDocumentName(name: unknown, field = 'document'): FieldError | undefined {
  const fix = 'rename the file or pass another name (--name on the CLI), such as credit-policy.md';
  if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_DOCUMENT_NAME_LENGTH) {
    return { field, message: `must be a name of 1 to ${MAX_DOCUMENT_NAME_LENGTH} characters; ${fix}` };
  }
  if (CONTROL.test(name)) return { field, message: `must not contain control characters such as NUL, tab or a line break; ${fix}` };
  if (BIDI_CONTROL.test(name)) return { field, message: `must not contain bidirectional override characters (U+202A to U+202E, U+2066 to U+2069); ${fix}` };
  // File names are full of dates and reference numbers (regulation-b_1002_2017-20417_20220101.xml),
  // which count only as countsInIdentifier allows. The second scan reads `_` as a space, so a number
  // joined by underscores (statement_4111111111111111.pdf) is found too.
  const findings = [...scanPii(name).filter(countsInIdentifier), ...scanPiiAcrossUnderscores(name)];
  if (findings.length > 0) {
    const types = [...new Set(findings.map((finding) => finding.entityType))].join(', ');
    return { field, message: `must not contain personal data (found ${types}), because document names appear in citations and the audit ledger; ${fix}` };
  }
  return undefined;
}
