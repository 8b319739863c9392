import { isAbaChecksumValid, isSingleRepeatedDigit } from './checksums.js';
import { hasLabelBefore } from './context.js';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';

/** Nine digits, either plain or written dddd-dddd-d as on some cheques and forms. */
const ROUTING_CANDIDATE = /(?<![\p{L}\p{N}_]|\p{N}[-.])(?:\d{9}|\d{4}-\d{4}-\d)(?![\p{L}\p{N}_]|[-.]\p{N})/gu;

/**
 * Checks that the first two digits, which identify the Federal Reserve district or kind of
 * institution, are assigned: 00 United States government, 01–12 banks, 21–32 thrift institutions,
 * 61–72 electronic transactions and 80 traveller's cheques.
 */
function hasAssignedPrefix(digits: string): boolean {
  const prefix = Number(digits.slice(0, 2));
  return prefix <= 12 || (prefix >= 21 && prefix <= 32) || (prefix >= 61 && prefix <= 72) || prefix === 80;
}

const ROUTING_LABEL = /\b(?:routing|aba|rtn|transit)\b/i;

/** A valid check digit alone passes for one random nine-digit number in ten. */
const ROUTING_SCORE = 0.4;
/** With "routing", "ABA", "RTN" or "transit" just before the number. */
const LABELED_ROUTING_SCORE = 0.85;

/** Finds ABA routing transit numbers: nine digits with an assigned prefix and a valid 3-7-1 check digit. */
export class AbaRoutingRecognizer implements PiiRecognizer {
  readonly name = 'aba-routing';
  readonly entityTypes: readonly PiiEntityType[] = ['ABA_ROUTING_NUMBER'];

  scan(text: string): PiiFinding[] {
    const findings: PiiFinding[] = [];
    for (const match of text.matchAll(ROUTING_CANDIDATE)) {
      const digits = match[0].replaceAll('-', '');
      if (isSingleRepeatedDigit(digits) || !hasAssignedPrefix(digits) || !isAbaChecksumValid(digits)) continue;

      const score = hasLabelBefore(text, match.index, ROUTING_LABEL) ? LABELED_ROUTING_SCORE : ROUTING_SCORE;
      findings.push({ entityType: 'ABA_ROUTING_NUMBER', start: match.index, end: match.index + match[0].length, score, recognizer: this.name });
    }
    return findings;
  }
}
