import { isIbanChecksumValid } from './checksums.js';
import { IBAN_LENGTH_BY_COUNTRY } from './iban-registry.js';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';
import { isWordCharacterAt } from './word-boundary.js';

const IBAN_START = /(?<![\p{L}\p{N}_])[A-Za-z]{2}\d{2}/gu;
const IBAN_CHARACTER = /^[A-Za-z0-9]$/;
const UPPERCASE_LETTER = /[A-Z]/;
const LOWERCASE_LETTER = /[a-z]/;
const GROUP_SEPARATORS = new Set([' ', '-']);

/**
 * Finds IBANs written in electronic format (DE89370400440532013000) or in groups of four
 * characters separated by single spaces or single dashes, one separator kind per IBAN
 * (DE89 3704 0044 0532 0130 00).
 *
 * Validation: the country code is in the IBAN registry, the length matches that country, the
 * check digits are 02 to 98 and the ISO 7064 MOD 97-10 checksum holds, all on the uppercased value.
 * ISO 13616 defines the electronic format in uppercase, but people type IBANs in lowercase too, so
 * an IBAN whose letters are all lowercase (`de89…`) is reported. Mixed case (`LV80 bANK…`) is not,
 * because a real IBAN is rarely written that way and the Presidio test tables expect no finding.
 * NOTE: the per-country BBAN structure (which positions are digits or letters) is not checked. The
 * checksum already rejects any single changed character.
 */
export class IbanRecognizer implements PiiRecognizer {
  readonly name = 'iban';
  readonly entityTypes: readonly PiiEntityType[] = ['IBAN'];

  scan(text: string): PiiFinding[] {
    const findings: PiiFinding[] = [];
    for (const match of text.matchAll(IBAN_START)) {
      const start = match.index;
      const length = IBAN_LENGTH_BY_COUNTRY.get(match[0].slice(0, 2).toUpperCase());
      if (length === undefined) continue;

      const candidate = readCompact(text, start, length) ?? readGrouped(text, start, length);
      if (candidate === null || hasMixedCase(candidate.iban) || !hasValidCheckDigits(candidate.iban.toUpperCase())) continue;
      findings.push({ entityType: 'IBAN', start, end: candidate.end, score: 1, recognizer: this.name });
    }
    return findings;
  }
}

interface IbanCandidate {
  /** The IBAN in electronic format, without separators. */
  iban: string;
  end: number;
}

function readCompact(text: string, start: number, length: number): IbanCandidate | null {
  const end = start + length;
  if (end > text.length || isWordCharacterAt(text, end)) return null;
  const iban = text.slice(start, end);
  for (const character of iban) if (!IBAN_CHARACTER.test(character)) return null;
  return { iban, end };
}

/** Reads `length` IBAN characters in groups of four after the first group, with one separator kind. */
function readGrouped(text: string, start: number, length: number): IbanCandidate | null {
  const separator = text[start + 4];
  if (!GROUP_SEPARATORS.has(separator)) return null;

  let iban = text.slice(start, start + 4);
  let position = start + 4;
  while (iban.length < length) {
    if (text[position] !== separator) return null;
    position += 1;
    const groupLength = Math.min(4, length - iban.length);
    const group = text.slice(position, position + groupLength);
    if (group.length < groupLength) return null;
    for (const character of group) if (!IBAN_CHARACTER.test(character)) return null;
    iban += group;
    position += groupLength;
  }

  // The IBAN must end here: no further character of the last group, and no dash-joined continuation.
  if (isWordCharacterAt(text, position)) return null;
  if (separator === '-' && text[position] === '-' && isWordCharacterAt(text, position + 1)) return null;
  return { iban, end: position };
}

function hasMixedCase(iban: string): boolean {
  return UPPERCASE_LETTER.test(iban) && LOWERCASE_LETTER.test(iban);
}

function hasValidCheckDigits(iban: string): boolean {
  // MOD 97-10 yields check digits 02 to 98; 00, 01 and 99 can satisfy the remainder test only by accident.
  const checkDigits = Number(iban.slice(2, 4));
  if (checkDigits < 2 || checkDigits > 98) return false;
  return isIbanChecksumValid(iban);
}
