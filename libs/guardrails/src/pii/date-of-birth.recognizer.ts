import { hasLabelBefore } from './context.js';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';

const MONTH_NAMES = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const MONTH = String.raw`(?<monthName>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?`;

/**
 * Written date forms: 1985-03-12 (also with '/' or '.'), 12/03/1985 or 03/12/85 (day or month
 * first, also with '-' or '.'), 12 March 1985, March 12, 1985 and 12-Mar-1985.
 */
const DATE_CANDIDATE = new RegExp(
  String.raw`(?<![\p{L}\p{N}_])(?:` +
    [
      String.raw`(?<isoYear>\d{4})(?<isoSeparator>[-/.])(?<isoMonth>\d{1,2})\k<isoSeparator>(?<isoDay>\d{1,2})`,
      String.raw`(?<first>\d{1,2})(?<numericSeparator>[-/.])(?<second>\d{1,2})\k<numericSeparator>(?<numericYear>\d{4}|\d{2})`,
      String.raw`(?<dayBeforeName>\d{1,2})(?:st|nd|rd|th)?[ -]${MONTH}[ ,-]\s*(?<yearAfterDay>\d{4})`,
      String.raw`${MONTH.replace('monthName', 'nameFirst')}\s+(?<dayAfterName>\d{1,2})(?:st|nd|rd|th)?,?\s+(?<yearAfterName>\d{4})`,
    ].join('|') +
    String.raw`)(?![\p{L}\p{N}_]|[-/.]\p{N})`,
  'giu',
);

const BIRTH_LABEL = /\b(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?)\b/i;

/** A valid date after a birth label is likely a birth date, but the label may describe another date nearby. */
const BIRTH_DATE_SCORE = 0.5;
const EARLIEST_BIRTH_YEAR = 1900;

export interface DateOfBirthRecognizerOptions {
  /** Clock that decides which dates lie in the future. Tests pin it. */
  now?: () => Date;
}

/**
 * Finds dates of birth: a calendar date that exists, lies between 1900 and today, and follows a
 * label such as "DOB", "date of birth" or "born" within the context window. Dates without such a
 * label are not reported, because most dates in a prompt are not birth dates.
 * NOTE: labels and month names are English only.
 */
export class DateOfBirthRecognizer implements PiiRecognizer {
  readonly name = 'date-of-birth';
  readonly entityTypes: readonly PiiEntityType[] = ['DATE_OF_BIRTH'];
  private readonly now: () => Date;

  constructor(options: DateOfBirthRecognizerOptions = {}) {
    this.now = options.now ?? (() => new Date());
  }

  scan(text: string): PiiFinding[] {
    const findings: PiiFinding[] = [];
    const today = this.now();
    for (const match of text.matchAll(DATE_CANDIDATE)) {
      if (!hasLabelBefore(text, match.index, BIRTH_LABEL)) continue;
      if (!readCandidateDates(match.groups ?? {}).some((date) => isPlausibleBirthDate(date, today))) continue;
      findings.push({ entityType: 'DATE_OF_BIRTH', start: match.index, end: match.index + match[0].length, score: BIRTH_DATE_SCORE, recognizer: this.name });
    }
    return findings;
  }
}

interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

/** Returns every reading of the matched date. A numeric d/m/y date has two, day first and month first. */
function readCandidateDates(groups: Record<string, string | undefined>): CalendarDate[] {
  if (groups.isoYear !== undefined) {
    return [{ year: Number(groups.isoYear), month: Number(groups.isoMonth), day: Number(groups.isoDay) }];
  }
  if (groups.numericYear !== undefined) {
    const first = Number(groups.first);
    const second = Number(groups.second);
    return expandYear(groups.numericYear).flatMap((year) => [
      { year, month: second, day: first },
      { year, month: first, day: second },
    ]);
  }
  if (groups.yearAfterDay !== undefined && groups.monthName !== undefined) {
    return [{ year: Number(groups.yearAfterDay), month: monthNumber(groups.monthName), day: Number(groups.dayBeforeName) }];
  }
  if (groups.yearAfterName !== undefined && groups.nameFirst !== undefined) {
    return [{ year: Number(groups.yearAfterName), month: monthNumber(groups.nameFirst), day: Number(groups.dayAfterName) }];
  }
  return [];
}

/** Expands a two-digit year to both centuries, because either may be meant. */
function expandYear(year: string): number[] {
  if (year.length === 4) return [Number(year)];
  return [1900 + Number(year), 2000 + Number(year)];
}

function monthNumber(name: string): number {
  const prefix = name.toLowerCase().slice(0, 3);
  return MONTH_NAMES.findIndex((month) => month.startsWith(prefix)) + 1;
}

function isPlausibleBirthDate(date: CalendarDate, today: Date): boolean {
  if (date.year < EARLIEST_BIRTH_YEAR || date.month < 1 || date.month > 12 || date.day < 1) return false;
  // Day 0 of the next month is the last day of this one.
  const daysInMonth = new Date(Date.UTC(date.year, date.month, 0)).getUTCDate();
  if (date.day > daysInMonth) return false;
  return Date.UTC(date.year, date.month - 1, date.day) <= today.getTime();
}
