import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js/max';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';

/**
 * Regions whose national formats are recognized by default. They are the countries whose formats a
 * bank in North America or Europe most often receives from customers and staff: the United States,
 * the United Kingdom, Germany, France and Switzerland. Israel and India are added because many
 * banks run development and operations centres there. A deployment should list its own customers'
 * countries. Each region costs one pass over a number, and numbers in international format
 * (+44 20 …) are found whatever the list, so it only matters for national formats such as
 * 020 7946 0958.
 */
export const DEFAULT_PHONE_REGIONS: readonly CountryCode[] = ['US', 'GB', 'DE', 'FR', 'IL', 'IN', 'CH'];

/**
 * Strictness of the match against the region's numbering plan, as libphonenumber-js 1.13 defines
 * it. 'VALID' requires a number that the metadata marks as assigned, and 'POSSIBLE' only a
 * plausible length.
 */
export type PhoneLeniency = 'VALID' | 'POSSIBLE';

export interface PhoneNumberRecognizerOptions {
  regions?: readonly CountryCode[];
  leniency?: PhoneLeniency;
}

/** Score for numbers with a '+' country code, whose country is stated rather than guessed. */
const INTERNATIONAL_SCORE = 0.7;
/** Score for national formats, which are read against the configured regions. */
const NATIONAL_SCORE = 0.5;

/**
 * Calendar dates that numbering plans accept as phone numbers, such as 2024-03-12 or 12.03.1985
 * (libphonenumber-js rejects only slash-separated dates).
 */
const DATE_SHAPE = /^(?:(?:19|20)\d{2}[-.](?:0?[1-9]|1[0-2])[-.](?:0?[1-9]|[12]\d|3[01])|(?:0?[1-9]|[12]\d|3[01])[-.](?:0?[1-9]|1[0-2])[-.](?:19|20)\d{2})$/;

/**
 * Stretches of text that could hold phone numbers: digits joined by spaces, tabs, dots, dashes,
 * slashes and parentheses, optionally after '+' or '('. A number never spans a line break.
 */
const NUMBER_STRETCH = /[+(]?\d[\d \t\u00A0().\/-]*\d\)?/g;
/**
 * In the libphonenumber-js 1.13 metadata, numbers of every default region have at least 7 digits,
 * except Germany, which also allows 4 to 6 for a few short numbers.
 */
const MIN_DIGITS = 7;
/**
 * E.164 allows at most 15 digits including the country code, and national formats in the default
 * regions stay within that except the longest German numbers (15 digits plus the trunk prefix 0).
 * A longer stretch is something else (a card number, an IBAN) or several numbers in a row.
 */
const MAX_DIGITS = 15;
/**
 * Year/number citations of legal acts, such as "Regulation (EU) 2024/1689" or "575/2013", which
 * German numbering accepts as area code and subscriber number. A slash-separated number is read
 * as a phone number only when it starts with the trunk prefix 0 (030/1234567), '+' or '('.
 * NOTE: a US number written with a slash after the area code (202/456-1111) is not found either.
 */
const SLASH_CITATION_SHAPE = /^[1-9][^/]*\//;
/** Dotted quads are IPv4 addresses, which some numbering plans would accept as phone numbers. */
const IPV4_SHAPE = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/**
 * Finds phone numbers with libphonenumber-js (full "max" metadata, so that 'VALID' checks the
 * number ranges of each country rather than only its length). A span found in several regions is
 * reported once.
 *
 * libphonenumber-js takes milliseconds per region on a 4 KB prompt, so it reads only the stretches
 * of digits and punctuation that contain 7 to 15 digits, each with one character of context on
 * both sides for its boundary checks.
 * NOTE: numbers outside 7 to 15 digits (service numbers such as 112, the shortest and longest
 * German numbers), written extensions ("ext. 12") and two numbers separated only by a space are
 * not found.
 */
export class PhoneNumberRecognizer implements PiiRecognizer {
  readonly name = 'phone-number';
  readonly entityTypes: readonly PiiEntityType[] = ['PHONE_NUMBER'];
  private readonly regions: readonly CountryCode[];
  private readonly leniency: PhoneLeniency;

  constructor(options: PhoneNumberRecognizerOptions = {}) {
    this.regions = options.regions ?? DEFAULT_PHONE_REGIONS;
    this.leniency = options.leniency ?? 'VALID';
  }

  scan(text: string): PiiFinding[] {
    const findingsBySpan = new Map<string, PiiFinding>();
    for (const stretch of text.matchAll(NUMBER_STRETCH)) {
      const digits = countDigits(stretch[0]);
      if (digits < MIN_DIGITS || digits > MAX_DIGITS || IPV4_SHAPE.test(stretch[0])) continue;

      const stretchEnd = stretch.index + stretch[0].length;
      const windowStart = Math.max(0, stretch.index - 1);
      const window = text.slice(windowStart, stretchEnd + 1);
      // A number with a '+' country code reads the same in every region, so one pass is enough.
      const regions = stretch[0].startsWith('+') ? this.regions.slice(0, 1) : this.regions;
      for (const region of regions) {
        let coversStretch = false;
        // libphonenumber-js calls the 'POSSIBLE' leniency "extended" search.
        for (const found of findPhoneNumbersInText(window, { defaultCountry: region, extended: this.leniency === 'POSSIBLE' })) {
          const start = windowStart + found.startsAt;
          const end = windowStart + found.endsAt;
          coversStretch ||= start === stretch.index && end === stretchEnd;
          this.addFinding(findingsBySpan, text, start, end);
        }
        // Another region could only find shorter numbers inside this one, which overlap resolution drops.
        if (coversStretch) break;
      }
    }
    return [...findingsBySpan.values()];
  }

  private addFinding(findingsBySpan: Map<string, PiiFinding>, text: string, start: number, end: number): void {
    const key = `${start}:${end}`;
    if (findingsBySpan.has(key)) return;

    const written = text.slice(start, end);
    if (DATE_SHAPE.test(written) || SLASH_CITATION_SHAPE.test(written)) return;
    const score = written.startsWith('+') ? INTERNATIONAL_SCORE : NATIONAL_SCORE;
    findingsBySpan.set(key, { entityType: 'PHONE_NUMBER', start, end, score, recognizer: this.name });
  }
}

function countDigits(value: string): number {
  let digits = 0;
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code >= 48 && code <= 57) digits += 1;
  }
  return digits;
}
