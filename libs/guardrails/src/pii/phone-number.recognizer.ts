import { findPhoneNumbersInText, type CountryCode } from 'libphonenumber-js/max';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';

/**
 * Regions whose national formats are recognized by default, chosen as the countries whose formats
 * a bank in North America or Europe most often sees from customers and staff: the United States,
 * the United Kingdom, Germany, France and Switzerland, plus Israel and India, where many banks run
 * development and operations centres. A deployment should list its own customers' countries. Each
 * region costs one pass over the text, and numbers in international format (+44 20 …) are found
 * whatever the list, so it only matters for national formats such as 020 7946 0958.
 */
export const DEFAULT_PHONE_REGIONS: readonly CountryCode[] = ['US', 'GB', 'DE', 'FR', 'IL', 'IN', 'CH'];

/**
 * How strictly a candidate must match the region's numbering plan, as libphonenumber-js 1.13
 * defines it: 'VALID' requires a number that the metadata marks as assigned; 'POSSIBLE' only
 * requires a plausible length.
 */
export type PhoneLeniency = 'VALID' | 'POSSIBLE';

export interface PhoneNumberRecognizerOptions {
  regions?: readonly CountryCode[];
  leniency?: PhoneLeniency;
}

/** Score for numbers with a '+' country code: the country is stated, not guessed. */
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
/** The shortest national significant number in the default regions has 7 digits, a local number with area code more. */
const MIN_DIGITS = 7;

/**
 * Finds phone numbers with libphonenumber-js (full "max" metadata, so that 'VALID' checks the
 * number ranges of each country rather than only its length). A span found in several regions is
 * reported once.
 *
 * libphonenumber-js takes milliseconds per region on a 4 KB prompt, so it reads only the stretches
 * of digits and punctuation that contain at least 7 digits, each with one character of context on
 * both sides for its boundary checks.
 * NOTE: because of the digit minimum, short numbers (service numbers such as 112 or 5-digit
 * numbers of small countries) are not found, and a written extension ("ext. 12") is not included.
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
      if (countDigits(stretch[0]) < MIN_DIGITS) continue;

      const windowStart = Math.max(0, stretch.index - 1);
      const window = text.slice(windowStart, stretch.index + stretch[0].length + 1);
      for (const region of this.regions) {
        // libphonenumber-js calls the 'POSSIBLE' leniency "extended" search.
        for (const found of findPhoneNumbersInText(window, { defaultCountry: region, extended: this.leniency === 'POSSIBLE' })) {
          const start = windowStart + found.startsAt;
          const end = windowStart + found.endsAt;
          const key = `${start}:${end}`;
          if (findingsBySpan.has(key)) continue;

          const written = text.slice(start, end);
          if (DATE_SHAPE.test(written)) continue;
          const score = written.startsWith('+') ? INTERNATIONAL_SCORE : NATIONAL_SCORE;
          findingsBySpan.set(key, { entityType: 'PHONE_NUMBER', start, end, score, recognizer: this.name });
        }
      }
    }
    return [...findingsBySpan.values()];
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
