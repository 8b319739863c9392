import { isLuhnValid, isSingleRepeatedDigit } from './checksums.js';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';

/** Issuer identification number range: card numbers whose leading digits fall in [low, high] and whose length is listed. */
interface IinRange {
  scheme: string;
  low: number;
  high: number;
  /** Number of leading digits that `low` and `high` describe. */
  prefixLength: number;
  lengths: readonly number[];
}

function range(scheme: string, low: string, high: string, lengths: readonly number[]): IinRange {
  return { scheme, low: Number(low), high: Number(high), prefixLength: low.length, lengths };
}

const SIXTEEN_TO_NINETEEN = [16, 17, 18, 19];

/**
 * Issuer identification number (ISO/IEC 7812) ranges of the card schemes in common use. No public
 * registry lists every IIN, so a card from a scheme missing here is not reported. A number outside
 * every range is not reported even when its Luhn digit is valid, because random 13–19 digit
 * numbers pass Luhn one time in ten.
 */
const IIN_RANGES: readonly IinRange[] = [
  range('uatp', '1', '1', [15]),
  range('mir', '2200', '2204', SIXTEEN_TO_NINETEEN),
  range('mastercard', '2221', '2720', [16]),
  range('diners', '300', '305', [14, ...SIXTEEN_TO_NINETEEN]),
  range('diners', '3095', '3095', [14, ...SIXTEEN_TO_NINETEEN]),
  range('amex', '34', '34', [15]),
  range('diners', '36', '36', [14, ...SIXTEEN_TO_NINETEEN]),
  range('amex', '37', '37', [15]),
  range('diners', '38', '39', SIXTEEN_TO_NINETEEN),
  range('jcb', '3528', '3589', SIXTEEN_TO_NINETEEN),
  range('visa', '4', '4', [13, 16, 19]),
  range('maestro', '5018', '5018', [13, 14, 15, ...SIXTEEN_TO_NINETEEN]),
  range('dankort', '5019', '5019', [16]),
  range('maestro', '5020', '5020', [13, 14, 15, ...SIXTEEN_TO_NINETEEN]),
  range('maestro', '5038', '5038', [13, 14, 15, ...SIXTEEN_TO_NINETEEN]),
  range('verve', '506099', '506198', [16, 18, 19]),
  range('rupay', '508', '508', [16]),
  range('mastercard', '51', '55', [16]),
  range('maestro', '5893', '5893', [13, 14, 15, ...SIXTEEN_TO_NINETEEN]),
  range('rupay', '60', '60', [16]),
  range('discover', '6011', '6011', SIXTEEN_TO_NINETEEN),
  range('unionpay', '62', '62', SIXTEEN_TO_NINETEEN),
  range('maestro', '6304', '6304', [13, 14, 15, ...SIXTEEN_TO_NINETEEN]),
  range('interpayment', '636', '636', SIXTEEN_TO_NINETEEN),
  range('instapayment', '637', '639', [16]),
  range('discover', '644', '649', SIXTEEN_TO_NINETEEN),
  range('discover', '65', '65', SIXTEEN_TO_NINETEEN),
  range('maestro', '6759', '6759', [13, 14, 15, ...SIXTEEN_TO_NINETEEN]),
  range('maestro', '6761', '6763', [13, 14, 15, ...SIXTEEN_TO_NINETEEN]),
  range('rupay', '81', '82', [16]),
  range('troy', '9792', '9792', [16]),
];

/** Runs of digit groups joined by single spaces or dashes that stand alone as a token. */
const DIGIT_GROUP_RUN = /(?<![\p{L}\p{N}_]|\p{N}[.,])\d+(?:[ -]\d+)*(?![\p{L}\p{N}_])/gu;
const SEPARATOR = /[ -]/;
const MIN_DIGITS = 13;
const MAX_DIGITS = 19;

/**
 * Finds payment card numbers (PANs) of 13 to 19 digits, written without separators or in groups
 * joined by single spaces or single dashes (one kind per number), such as 4111 1111 1111 1111 or
 * 3782-822463-10005.
 *
 * Validation: the leading digits fall in a known issuer range for that length, the Luhn check
 * digit is valid and the digits are not all the same.
 * NOTE: some UnionPay cards carry no Luhn check digit and are missed.
 */
export class PaymentCardRecognizer implements PiiRecognizer {
  readonly name = 'payment-card';
  readonly entityTypes: readonly PiiEntityType[] = ['CREDIT_CARD'];

  scan(text: string): PiiFinding[] {
    const findings: PiiFinding[] = [];
    for (const match of text.matchAll(DIGIT_GROUP_RUN)) {
      for (const span of findCardsInRun(match[0])) {
        findings.push({
          entityType: 'CREDIT_CARD',
          start: match.index + span.start,
          end: match.index + span.end,
          score: 1,
          recognizer: this.name,
        });
      }
    }
    return findings;
  }
}

interface DigitGroup {
  digits: string;
  start: number;
  end: number;
  /** Separator before this group, or '' for the first group of the run. */
  separatorBefore: string;
}

function splitGroups(run: string): DigitGroup[] {
  const groups: DigitGroup[] = [];
  let start = 0;
  for (let index = 0; index <= run.length; index += 1) {
    if (index < run.length && !SEPARATOR.test(run[index])) continue;
    groups.push({ digits: run.slice(start, index), start, end: index, separatorBefore: start === 0 ? '' : run[start - 1] });
    start = index + 1;
  }
  return groups;
}

/**
 * Returns the card spans in one run of digit groups. Candidates start and end on group boundaries,
 * so that three card numbers written one after another are found as three. From each group the
 * longest valid candidate wins.
 */
function findCardsInRun(run: string): Array<{ start: number; end: number }> {
  const groups = splitGroups(run);
  const spans: Array<{ start: number; end: number }> = [];
  let first = 0;
  while (first < groups.length) {
    const last = findLongestCardFrom(groups, first);
    if (last === null) {
      first += 1;
      continue;
    }
    spans.push({ start: groups[first].start, end: groups[last].end });
    first = last + 1;
  }
  return spans;
}

/** Returns the index of the last group of the longest valid card number that starts at group `first`. */
function findLongestCardFrom(groups: readonly DigitGroup[], first: number): number | null {
  const endings: Array<{ last: number; digits: string }> = [];
  let digits = '';
  for (let last = first; last < groups.length; last += 1) {
    if (last > first + 1 && groups[last].separatorBefore !== groups[first + 1].separatorBefore) break;
    digits += groups[last].digits;
    if (digits.length > MAX_DIGITS) break;
    if (digits.length >= MIN_DIGITS && hasCardGrouping(groups, first, last)) endings.push({ last, digits });
  }

  for (let index = endings.length - 1; index >= 0; index -= 1) {
    if (isValidCardNumber(endings[index].digits)) return endings[index].last;
  }
  return null;
}

/** Card numbers are printed in groups of four to six digits; only the last group may be shorter. */
function hasCardGrouping(groups: readonly DigitGroup[], first: number, last: number): boolean {
  if (first === last) return true;
  for (let index = first; index < last; index += 1) {
    const length = groups[index].digits.length;
    if (length < 4 || length > 6) return false;
  }
  return groups[last].digits.length <= 6;
}

function isValidCardNumber(digits: string): boolean {
  if (isSingleRepeatedDigit(digits) || !isLuhnValid(digits)) return false;
  return IIN_RANGES.some((iin) => {
    if (!iin.lengths.includes(digits.length)) return false;
    const prefix = Number(digits.slice(0, iin.prefixLength));
    return prefix >= iin.low && prefix <= iin.high;
  });
}
