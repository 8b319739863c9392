import { isSingleRepeatedDigit } from './checksums.js';
import { hasLabelBefore } from './context.js';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';

/**
 * Area (3 digits), group (2) and serial (4), each pair joined by '-', '.', ' ' or nothing. A
 * neighbouring letter or digit, or a digit joined by '-' or '.', means the digits belong to a
 * longer token.
 */
const SSN_CANDIDATE = /(?<![\p{L}\p{N}_]|\p{N}[-.])(\d{3})([-. ]?)(\d{2})([-. ]?)(\d{4})(?![\p{L}\p{N}_]|[-.]\p{N})/gu;

/**
 * Well-formed numbers that are not real SSNs. 078-05-1120 was printed on a sample card sold in
 * wallets in 1938 and 219-09-9999 in a Social Security pamphlet, so the Social Security
 * Administration voided both. 123-45-6789 is the usual placeholder.
 */
const PUBLICIZED_NUMBERS = new Set(['078051120', '219099999', '123456789']);

const SSN_LABEL = /\b(?:ssn|ss#|social\s+security(?:\s+(?:number|no\.?|#))?)/i;

/** Score for ddd-dd-dddd with the same separator in both places. */
const SEPARATED_SCORE = 0.55;
/** Score for nine digits without separators, which are often other identifiers. */
const UNSEPARATED_SCORE = 0.3;
/** Score for one dash only (ddd-dddddd or ddddd-dddd), an unusual way to write an SSN. */
const PARTIALLY_SEPARATED_SCORE = 0.2;
/** Added when "SSN" or "social security" precedes the number. */
const CONTEXT_BOOST = 0.35;

/**
 * Finds US Social Security numbers: ddd-dd-dddd with '-', '.' or ' ' used the same in both
 * places, nine digits without separators, or a single dash after the area or before the serial.
 *
 * Validation follows the Social Security Administration's rules for issued numbers: area 000,
 * 666 and 900–999 (the last are ITINs and advertising numbers) are never issued, nor group 00 or
 * serial 0000. Numbers of one repeated digit and publicized sample numbers are rejected too.
 */
export class UsSsnRecognizer implements PiiRecognizer {
  readonly name = 'us-ssn';
  readonly entityTypes: readonly PiiEntityType[] = ['US_SSN'];

  scan(text: string): PiiFinding[] {
    const findings: PiiFinding[] = [];
    for (const match of text.matchAll(SSN_CANDIDATE)) {
      const [, area, firstSeparator, group, secondSeparator, serial] = match;
      const baseScore = scoreSeparators(firstSeparator, secondSeparator);
      if (baseScore === null || !isIssuable(area, group, serial)) continue;

      const score = hasLabelBefore(text, match.index, SSN_LABEL) ? baseScore + CONTEXT_BOOST : baseScore;
      findings.push({ entityType: 'US_SSN', start: match.index, end: match.index + match[0].length, score, recognizer: this.name });
    }
    return findings;
  }
}

/** Returns the score for the separator pattern, or null when the separators are mixed. */
function scoreSeparators(first: string, second: string): number | null {
  if (first === '' && second === '') return UNSEPARATED_SCORE;
  if (first !== '' && second !== '') return first === second ? SEPARATED_SCORE : null;
  return first === '-' || second === '-' ? PARTIALLY_SEPARATED_SCORE : null;
}

function isIssuable(area: string, group: string, serial: string): boolean {
  if (area === '000' || area === '666' || area.startsWith('9')) return false;
  if (group === '00' || serial === '0000') return false;
  const digits = area + group + serial;
  return !isSingleRepeatedDigit(digits) && !PUBLICIZED_NUMBERS.has(digits);
}
