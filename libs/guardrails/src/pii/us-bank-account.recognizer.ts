import { hasLabelBefore } from './context.js';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';

/**
 * 8 to 17 digits. 17 is the size of the account number field in a NACHA (ACH) entry, and shorter
 * numbers are more often customer, order or reference ids.
 */
const ACCOUNT_CANDIDATE = /(?<![\p{L}\p{N}_]|\p{N}[-.,])\d{8,17}(?![\p{L}\p{N}_]|[-.,]\p{N})/gu;

const ACCOUNT_LABEL = /\b(?:accounts?|acct|acc\.?\s*(?:no|num)|a\/c|checking|savings)\b/i;

/** Context makes the number likely but does not validate it, because there is no check digit to test. */
const ACCOUNT_SCORE = 0.5;

/**
 * Finds US bank account numbers. Account numbers have no common format or check digit, so a
 * number is reported only when a label such as "account number", "acct" or "a/c" appears within
 * the context window before it.
 */
export class UsBankAccountRecognizer implements PiiRecognizer {
  readonly name = 'us-bank-account';
  readonly entityTypes: readonly PiiEntityType[] = ['US_BANK_ACCOUNT'];

  scan(text: string): PiiFinding[] {
    const findings: PiiFinding[] = [];
    for (const match of text.matchAll(ACCOUNT_CANDIDATE)) {
      if (!hasLabelBefore(text, match.index, ACCOUNT_LABEL)) continue;
      findings.push({ entityType: 'US_BANK_ACCOUNT', start: match.index, end: match.index + match[0].length, score: ACCOUNT_SCORE, recognizer: this.name });
    }
    return findings;
  }
}
