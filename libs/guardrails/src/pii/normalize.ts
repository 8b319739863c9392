/**
 * Text normalization for PII scanning. Users paste values from PDFs, spreadsheets and chat clients
 * that write them with no-break or thin spaces, zero-width characters or full-width forms
 * ("ＤＥ８９…", "name＠bank.com"). The recognizers are written for ASCII, so scanPii runs them on a
 * normalized copy and maps every finding back to the original offsets.
 *
 * Unlike the injection normalizer, this one keeps letter case, digits and punctuation, so a
 * recognizer reads the value as it was written, only in its plain form.
 */

/** Text prepared for the recognizers, with a map back into the original text. */
export interface PiiNormalizedText {
  text: string;
  /** UTF-16 index in the original text where the source of `text[i]` starts; null when `text` is the original. */
  starts: number[] | null;
  /** UTF-16 index in the original text just after the source of `text[i]`; null when `text` is the original. */
  ends: number[] | null;
}

const NON_ASCII = /[^\u0000-\u007f]/;
const SPACE_SEPARATOR = /^\p{Zs}$/u;
const DEFAULT_IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;

/**
 * Foldings of non-ASCII code points, cached because normalize() is the slowest step. The cap keeps
 * text made of many distinct rare code points from growing the cache without bound.
 */
const FOLD_CACHE = new Map<number, string>();
const FOLD_CACHE_MAX_ENTRIES = 8192;

/**
 * Normalizes `original` code point by code point. Every space separator (Unicode category Zs,
 * such as U+00A0, U+2009 and U+202F) becomes a plain space. Default-ignorable characters
 * (zero-width space and joiners, U+FEFF, soft hyphen, variation selectors) are removed. Every
 * other code point gets its NFKC form, which turns full-width and mathematical digits and letters
 * into ASCII. Text without a change, such as any ASCII text, is returned as it is, without a map.
 * NOTE: NFKC is applied per code point, so a base letter and a separate combining accent are not
 * composed. The recognizers match ASCII only, so this changes no finding.
 * `_` stays a word character, as e-mail addresses need, so a card number or IBAN joined to a word by
 * underscores (txn_4111111111111111) is not found here. scanPiiAcrossUnderscores finds it; the
 * gateway's request ids and scrubPii (log lines, error messages, rationales) use it.
 */
export function normalizeForPii(original: string): PiiNormalizedText {
  if (!NON_ASCII.test(original)) return { text: original, starts: null, ends: null };

  const parts: string[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  let changed = false;
  let index = 0;
  while (index < original.length) {
    const codePoint = original.codePointAt(index) as number;
    const end = index + (codePoint > 0xffff ? 2 : 1);
    const folded = codePoint < 0x80 ? original[index] : foldCodePoint(codePoint);
    if (folded !== original.slice(index, end)) changed = true;

    parts.push(folded);
    for (let offset = 0; offset < folded.length; offset += 1) {
      starts.push(index);
      ends.push(end);
    }
    index = end;
  }

  if (!changed) return { text: original, starts: null, ends: null };
  return { text: parts.join(''), starts, ends };
}

/**
 * Maps the range [start, end) of the normalized text to the original text. A range that starts or
 * ends inside the expansion of one code point (NFKC turns "¼" into three characters) covers that
 * whole code point.
 */
export function originalRange(normalized: PiiNormalizedText, start: number, end: number): { start: number; end: number } {
  if (normalized.starts === null || normalized.ends === null) return { start, end };
  return { start: normalized.starts[start], end: normalized.ends[end - 1] };
}

/**
 * Returns the form of a detected value that identifies it, so that the same value written in
 * different ways gets the same hash or placeholder: NFKC, without whitespace, dots, dashes and
 * default-ignorable characters, in upper case. "DE89 3704…", "de893704…" and "ＤＥ８９\u00a0３７０４…"
 * are one value.
 */
export function canonicalPiiValue(value: string): string {
  return value.normalize('NFKC').replace(/[\s.\-\p{Default_Ignorable_Code_Point}]/gu, '').toUpperCase();
}

function foldCodePoint(codePoint: number): string {
  const cached = FOLD_CACHE.get(codePoint);
  if (cached !== undefined) return cached;

  const character = String.fromCodePoint(codePoint);
  let folded: string;
  if (SPACE_SEPARATOR.test(character)) folded = ' ';
  else if (DEFAULT_IGNORABLE.test(character)) folded = '';
  else folded = character.normalize('NFKC');

  if (FOLD_CACHE.size < FOLD_CACHE_MAX_ENTRIES) FOLD_CACHE.set(codePoint, folded);
  return folded;
}
