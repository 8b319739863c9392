import { AbaRoutingRecognizer } from './aba-routing.recognizer.js';
import { DateOfBirthRecognizer } from './date-of-birth.recognizer.js';
import { EmailRecognizer } from './email.recognizer.js';
import { IbanRecognizer } from './iban.recognizer.js';
import { IpAddressRecognizer } from './ip-address.recognizer.js';
import { normalizeForPii, originalRange } from './normalize.js';
import { PaymentCardRecognizer } from './payment-card.recognizer.js';
import { PhoneNumberRecognizer } from './phone-number.recognizer.js';
import type { PiiEntityType, PiiFinding, PiiRecognizer } from './types.js';
import { UsBankAccountRecognizer } from './us-bank-account.recognizer.js';
import { UsSsnRecognizer } from './us-ssn.recognizer.js';

/** Creates one instance of every built-in recognizer with its default options. */
export function defaultRecognizers(): PiiRecognizer[] {
  return [
    new IbanRecognizer(),
    new PaymentCardRecognizer(),
    new UsSsnRecognizer(),
    new EmailRecognizer(),
    new IpAddressRecognizer(),
    new PhoneNumberRecognizer(),
    new AbaRoutingRecognizer(),
    new UsBankAccountRecognizer(),
    new DateOfBirthRecognizer(),
  ];
}

/**
 * Runs every recognizer, then resolves overlaps as `resolveOverlaps` describes: a longer or
 * higher-score span wins, and equal spans of different types both stay only if they are truly
 * different entity types. Returns the findings sorted by start.
 *
 * The recognizers read a normalized copy of `text` (see `normalizeForPii`), so values written with
 * no-break or thin spaces, zero-width characters or full-width forms are found too. Every finding's
 * span is an offset range into `text` itself, covering the characters as they were written.
 */
export function scanPii(text: string, recognizers: PiiRecognizer[] = defaultRecognizers()): PiiFinding[] {
  const normalized = normalizeForPii(text);
  const findings = scanNormalized(normalized.text, recognizers);
  if (normalized.starts === null) return findings;
  return findings.map((finding) => ({ ...finding, ...originalRange(normalized, finding.start, finding.end) }));
}

/**
 * Tells whether a finding counts in an identifier, such as a file name or a request id. These are
 * full of dates and counters, and 20261205_0001 reads as a phone number at score 0.5. So phone and
 * account numbers, which the recognizers find by format alone, count only from score 0.6: the score
 * that a country code or a label beside the number gives.
 */
export function countsInIdentifier(finding: PiiFinding): boolean {
  return !FORMAT_ONLY_TYPES.has(finding.entityType) || finding.score >= 0.6;
}

/**
 * `_` and the code points that NFKC turns into `_` (U+FE33, U+FE34, U+FE4D to U+FE4F and the
 * full-width U+FF3F). normalizeForPii folds those into `_` after scanPiiAcrossUnderscores has
 * replaced the ASCII ones, so they must be replaced too. Each is one UTF-16 code unit, so replacing
 * it with a space keeps every offset.
 */
const EVERY_UNDERSCORE_FORM = /[_\uFE33\uFE34\uFE4D-\uFE4F\uFF3F]/g;
const UNDERSCORE_FORM = /[_\uFE33\uFE34\uFE4D-\uFE4F\uFF3F]/;

/** Tells whether a text contains `_` or a code point that NFKC turns into `_`, which scanPiiAcrossUnderscores reads as a space. */
export function containsUnderscore(text: string): boolean {
  return UNDERSCORE_FORM.test(text);
}

/**
 * Scans a text with every `_` (and each form of it that NFKC folds to `_`) read as a space. The
 * recognizers treat `_` as part of a word, as e-mail addresses need, so a card number or IBAN joined
 * to a word by underscores (txn_4111111111111111) is found only this way. Only findings that
 * count in an identifier (countsInIdentifier) are returned.
 */
export function scanPiiAcrossUnderscores(text: string, recognizers: PiiRecognizer[] = defaultRecognizers()): PiiFinding[] {
  return scanPii(text.replace(EVERY_UNDERSCORE_FORM, ' '), recognizers).filter(countsInIdentifier);
}

function scanNormalized(text: string, recognizers: PiiRecognizer[]): PiiFinding[] {
  // Recognizers that only check a format (phone, bank account) run last, on a copy of the text in
  // which every checksum-validated finding is blanked out. They cannot win over those findings
  // anyway, and the phone parser, the slowest step, then gets fewer candidates.
  const formatOnly = (recognizer: PiiRecognizer) => recognizer.entityTypes.every((type) => FORMAT_ONLY_TYPES.has(type));
  const searched = blankIdentifiers(text);
  const validated = recognizers.filter((recognizer) => !formatOnly(recognizer)).flatMap((recognizer) => recognizer.scan(searched));
  const remaining = blankSpans(searched, validated);
  const formatted = recognizers.filter(formatOnly).flatMap((recognizer) => recognizer.scan(remaining));
  return resolveOverlaps([...validated, ...formatted]);
}

/**
 * Entity types whose recognizers check only a format and its context, not a check digit or a
 * strict syntax: a numbering plan accepts many digit strings, and any labeled number can be an
 * account. On exactly the same span they describe a misreading of the validated entity rather
 * than a second entity, as when libphonenumber-js reads 203.0.113.7 or 078-05-1123 as a phone number.
 */
const FORMAT_ONLY_TYPES: ReadonlySet<PiiEntityType> = new Set(['PHONE_NUMBER', 'US_BANK_ACCOUNT']);

/**
 * Keeps the findings that no other finding outranks:
 * 1. Findings with the same span and entity type (from two recognizers, say) merge into the one
 *    with the higher score.
 * 2. Findings with exactly the same span but different entity types all stay, because the text can
 *    be both (nine digits can be an SSN and a routing number) and a redactor needs each label. The
 *    exception is a phone number or bank account on the span of a validated type, which is dropped.
 * 3. Of two other overlapping findings the higher score wins, and on equal scores the longer span,
 *    so that a validated card number beats a phone number read inside it.
 * The result is sorted by start, then end, then entity type.
 */
export function resolveOverlaps(findings: readonly PiiFinding[]): PiiFinding[] {
  const ranked = dropFormatOnlyReadings(mergeSameSpanAndType(findings)).sort(compareByRank);

  const accepted: PiiFinding[] = [];
  for (const candidate of ranked) {
    const blocked = accepted.some((other) => overlaps(candidate, other) && !hasSameSpan(candidate, other));
    if (!blocked) accepted.push(candidate);
  }
  return accepted.sort(compareByPosition);
}

function mergeSameSpanAndType(findings: readonly PiiFinding[]): PiiFinding[] {
  const best = new Map<string, PiiFinding>();
  for (const finding of findings) {
    const key = `${spanKey(finding)}:${finding.entityType}`;
    const current = best.get(key);
    if (current === undefined || finding.score > current.score) best.set(key, finding);
  }
  return [...best.values()];
}

function dropFormatOnlyReadings(findings: readonly PiiFinding[]): PiiFinding[] {
  const validatedSpans = new Set(findings.filter((finding) => !FORMAT_ONLY_TYPES.has(finding.entityType)).map(spanKey));
  return findings.filter((finding) => !FORMAT_ONLY_TYPES.has(finding.entityType) || !validatedSpans.has(spanKey(finding)));
}

function spanKey(finding: PiiFinding): string {
  return `${finding.start}:${finding.end}`;
}

function compareByRank(left: PiiFinding, right: PiiFinding): number {
  return right.score - left.score || right.end - right.start - (left.end - left.start) || compareByPosition(left, right);
}

function compareByPosition(left: PiiFinding, right: PiiFinding): number {
  return left.start - right.start || left.end - right.end || left.entityType.localeCompare(right.entityType);
}

function overlaps(left: PiiFinding, right: PiiFinding): boolean {
  return left.start < right.end && right.start < left.end;
}

function hasSameSpan(left: PiiFinding, right: PiiFinding): boolean {
  return left.start === right.start && left.end === right.end;
}

/** Replaces the characters of each finding with spaces, so offsets into the text stay valid. */
function blankSpans(text: string, findings: readonly PiiFinding[]): string {
  if (findings.length === 0) return text;
  const characters = text.split('');
  for (const finding of findings) characters.fill(' ', finding.start, finding.end);
  return characters.join('');
}

/**
 * Machine identifiers that contain digit runs but are never personal data: UUIDs, and lowercase
 * hex strings of 16 or more characters such as SHA-256 digests. Without this, a run of digits
 * inside a decision id could read as a phone or routing number.
 */
const IDENTIFIER_SHAPES = /\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b|\b(?=[0-9a-f]*[a-f])[0-9a-f]{16,}\b/g;

const IBAN_CHECK = new IbanRecognizer();

/**
 * Replaces machine identifiers with spaces, keeping every offset. A lowercase IBAN such as
 * de89370400440532013000 has the shape of a hex string, so a match that is a valid IBAN stays.
 */
function blankIdentifiers(text: string): string {
  return text.replace(IDENTIFIER_SHAPES, (match) => (IBAN_CHECK.scan(match).length > 0 ? match : ' '.repeat(match.length)));
}
