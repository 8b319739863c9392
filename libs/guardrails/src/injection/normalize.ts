/**
 * Text normalization for injection matching. Attackers hide trigger phrases behind full-width or
 * mathematical letters, accents, zero-width characters, Cyrillic or Greek look-alikes, leetspeak
 * and letters spaced apart ("i g n o r e"). The normalized text undoes those tricks so that the
 * rules can be written once, in plain lowercase ASCII, and every normalized character keeps the
 * range of the original text it came from, so signals can point at what the caller sent.
 */

/** Text prepared for matching, with a map back into the original text. */
export interface NormalizedText {
  /** Lowercase, compatibility-folded text without diacritics, invisible characters or repeated whitespace. */
  text: string;
  /** UTF-16 index in the original text where the source of `text[i]` starts. */
  starts: Int32Array;
  /** UTF-16 index in the original text just after the source of `text[i]`. */
  ends: Int32Array;
}

/**
 * Normalizes `original` for matching in four passes:
 * 1. per code point: drop default-ignorable characters (zero-width, soft hyphen, bidi controls,
 *    variation selectors), decode Unicode tag characters to the ASCII they shadow, apply the NFKC
 *    compatibility mapping, remove diacritics, lowercase, fold typographic quotes and dashes, and
 *    collapse each whitespace run to one space, or to one newline when the run contains a line break;
 * 2. join runs of four or more single letters split by one separator character ("i.g.n.o.r.e");
 * 3. per word: map Cyrillic, Greek and Armenian look-alikes to Latin letters when the word mixes
 *    scripts or consists only of look-alikes, and map leetspeak digits when the word has at
 *    least two Latin letters, so "1gn0re" becomes "ignore" but "$500" and "1002.9" stay as they are.
 * Use `sourceRange` to map a match in `text` back to the original.
 */
export function normalizeForMatching(original: string): NormalizedText {
  const buffer = foldCodePoints(original);
  joinSpacedLetters(buffer);
  mapWordConfusables(buffer);
  return {
    text: codesToString(buffer.codes),
    starts: Int32Array.from(buffer.starts),
    ends: Int32Array.from(buffer.ends),
  };
}

/** Maps the range [start, end) of the normalized text to the range of the original text it came from. */
export function sourceRange(normalized: NormalizedText, start: number, end: number): { start: number; end: number } {
  if (end <= start) return { start: normalized.starts[start] ?? 0, end: normalized.starts[start] ?? 0 };
  return { start: normalized.starts[start], end: normalized.ends[end - 1] };
}

/** Normalized UTF-16 code units with, for each, the original range that produced it. */
interface CodeBuffer {
  codes: number[];
  starts: number[];
  ends: number[];
}

const SPACE = 0x20;
const NEWLINE = 0x0a;

/** Unicode tag characters U+E0020 to U+E007E shadow printable ASCII and render as nothing. */
const TAG_FIRST = 0xe0020;
const TAG_LAST = 0xe007e;
const TAG_OFFSET = 0xe0000;

const DEFAULT_IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;
const WHITE_SPACE = /^\p{White_Space}$/u;
const LINE_BREAK = new Set([0x0a, 0x0b, 0x0c, 0x0d, 0x85, 0x2028, 0x2029]);
const COMBINING_MARK = /\p{M}/gu;

/** Typographic punctuation folded to the ASCII that rules are written with. */
const PUNCTUATION_FOLDS = new Map<number, number>([
  [0x2018, 0x27], // left single quotation mark
  [0x2019, 0x27], // right single quotation mark
  [0x201b, 0x27],
  [0x2032, 0x27], // prime
  [0x02bc, 0x27], // modifier letter apostrophe
  [0x201c, 0x22], // left double quotation mark
  [0x201d, 0x22], // right double quotation mark
  [0x201e, 0x22],
  [0x2033, 0x22],
  [0x2010, 0x2d], // hyphen
  [0x2011, 0x2d], // non-breaking hyphen
  [0x2012, 0x2d], // figure dash
  [0x2013, 0x2d], // en dash
  [0x2014, 0x2d], // em dash
  [0x2015, 0x2d],
  [0x2212, 0x2d], // minus sign
]);

/**
 * Foldings of non-ASCII code points, cached because NFKD is the slowest step. The cap keeps text
 * made of many distinct rare code points from growing the cache without bound.
 */
const FOLD_CACHE = new Map<number, string>();
const FOLD_CACHE_MAX_ENTRIES = 8192;

function foldCodePoints(original: string): CodeBuffer {
  const buffer: CodeBuffer = { codes: [], starts: [], ends: [] };
  let index = 0;
  while (index < original.length) {
    const codePoint = original.codePointAt(index) as number;
    const size = codePoint > 0xffff ? 2 : 1;
    const end = index + size;

    if (codePoint < 0x80) {
      appendAscii(buffer, codePoint, index, end);
    } else if (codePoint >= TAG_FIRST && codePoint <= TAG_LAST) {
      appendAscii(buffer, codePoint - TAG_OFFSET, index, end);
    } else {
      const folded = foldNonAscii(codePoint);
      if (folded === '') extendLast(buffer, index, end);
      else appendFolded(buffer, folded, index, end);
    }
    index = end;
  }
  return buffer;
}

/** Extends the last character's source range over a dropped code point right after it, such as a combining accent. */
function extendLast(buffer: CodeBuffer, start: number, end: number): void {
  const last = buffer.ends.length - 1;
  if (last >= 0 && buffer.ends[last] === start) buffer.ends[last] = end;
}

function appendAscii(buffer: CodeBuffer, code: number, start: number, end: number): void {
  if (code === SPACE || (code >= 0x09 && code <= 0x0d)) {
    appendWhitespace(buffer, code === SPACE || code === 0x09 ? SPACE : NEWLINE, start, end);
    return;
  }
  // Other C0 controls render as nothing, so they are dropped like zero-width characters.
  if (code < 0x20 || code === 0x7f) {
    extendLast(buffer, start, end);
    return;
  }
  const lower = code >= 0x41 && code <= 0x5a ? code + 0x20 : code;
  pushCode(buffer, lower, start, end);
}

/** Returns the folded form of one non-ASCII code point: "" to drop it, " " or "\n" for whitespace. */
function foldNonAscii(codePoint: number): string {
  const cached = FOLD_CACHE.get(codePoint);
  if (cached !== undefined) return cached;

  const character = String.fromCodePoint(codePoint);
  let folded: string;
  const punctuation = PUNCTUATION_FOLDS.get(codePoint);
  if (punctuation !== undefined) folded = String.fromCharCode(punctuation);
  else if (WHITE_SPACE.test(character)) folded = LINE_BREAK.has(codePoint) ? '\n' : ' ';
  else if (DEFAULT_IGNORABLE.test(character)) folded = '';
  // NFKD applies the NFKC compatibility mapping (full-width, ligatures, mathematical letters)
  // and splits off diacritics, which are then removed so that "ïgnore" matches "ignore".
  else folded = character.normalize('NFKD').replace(COMBINING_MARK, '').toLowerCase().replace(COMBINING_MARK, '');

  if (FOLD_CACHE.size < FOLD_CACHE_MAX_ENTRIES) FOLD_CACHE.set(codePoint, folded);
  return folded;
}

function appendFolded(buffer: CodeBuffer, folded: string, start: number, end: number): void {
  for (let offset = 0; offset < folded.length; offset += 1) {
    const code = folded.charCodeAt(offset);
    if (code === SPACE || code === NEWLINE) appendWhitespace(buffer, code, start, end);
    else if (code < 0x80) appendAscii(buffer, code, start, end);
    else pushCode(buffer, code, start, end);
  }
}

/** Appends whitespace, merging it into a preceding whitespace character; a newline wins over a space. */
function appendWhitespace(buffer: CodeBuffer, code: number, start: number, end: number): void {
  const last = buffer.codes.length - 1;
  if (last >= 0 && (buffer.codes[last] === SPACE || buffer.codes[last] === NEWLINE)) {
    if (code === NEWLINE) buffer.codes[last] = NEWLINE;
    buffer.ends[last] = end;
    return;
  }
  pushCode(buffer, code, start, end);
}

function pushCode(buffer: CodeBuffer, code: number, start: number, end: number): void {
  buffer.codes.push(code);
  buffer.starts.push(start);
  buffer.ends.push(end);
}

/** Separators that attackers put between single letters to split a trigger word. */
const LETTER_SEPARATORS = new Set([SPACE, 0x2e, 0x2d, 0x5f, 0x2a]); // space . - _ *
const MIN_SPACED_LETTERS = 4;

/**
 * Removes the separators inside runs of at least four single word characters that are separated
 * by one separator character each, such as "i g n o r e" or "s.y.s.t.e.m". The run must use one
 * separator throughout, so "a-b c.d" is left alone.
 */
function joinSpacedLetters(buffer: CodeBuffer): void {
  const { codes } = buffer;
  const removed = new Set<number>();
  let index = 0;
  while (index < codes.length) {
    if (!isSingleWordCharacter(codes, index)) {
      index += 1;
      continue;
    }
    const separator = codes[index + 1];
    let count = 1;
    let cursor = index;
    while (LETTER_SEPARATORS.has(separator) && codes[cursor + 1] === separator && isSingleWordCharacter(codes, cursor + 2)) {
      cursor += 2;
      count += 1;
    }
    if (count >= MIN_SPACED_LETTERS) {
      for (let position = index + 1; position < cursor; position += 2) removed.add(position);
    }
    index = cursor + 1;
  }
  if (removed.size === 0) return;

  const kept: CodeBuffer = { codes: [], starts: [], ends: [] };
  for (let position = 0; position < codes.length; position += 1) {
    if (!removed.has(position)) pushCode(kept, codes[position], buffer.starts[position], buffer.ends[position]);
  }
  buffer.codes = kept.codes;
  buffer.starts = kept.starts;
  buffer.ends = kept.ends;
}

/** True when codes[index] is a word character with no word character on either side. */
function isSingleWordCharacter(codes: readonly number[], index: number): boolean {
  if (index >= codes.length || !isWordCode(codes[index])) return false;
  return !isWordCode(codes[index - 1]) && !isWordCode(codes[index + 1]);
}

/** Look-alike letters, lowercase, mapped to the Latin letter they imitate. */
const CONFUSABLES = new Map<number, number>(
  [
    // Cyrillic
    ['а', 'a'], ['е', 'e'], ['к', 'k'], ['о', 'o'], ['р', 'p'], ['с', 'c'], ['у', 'y'], ['х', 'x'],
    ['і', 'i'], ['ј', 'j'], ['ѕ', 's'], ['ԁ', 'd'], ['һ', 'h'], ['ӏ', 'l'], ['ԛ', 'q'], ['ԝ', 'w'],
    // Greek
    ['α', 'a'], ['ε', 'e'], ['ι', 'i'], ['κ', 'k'], ['ν', 'v'], ['ο', 'o'], ['ρ', 'p'], ['τ', 't'],
    ['υ', 'u'], ['χ', 'x'], ['ω', 'w'], ['ϲ', 'c'],
    // Armenian
    ['օ', 'o'], ['ս', 'u'], ['հ', 'h'], ['ց', 'g'],
    // Latin letters outside ASCII that NFKD leaves alone
    ['ı', 'i'], ['ɡ', 'g'], ['ɑ', 'a'], ['ʏ', 'y'], ['ɪ', 'i'], ['ʟ', 'l'], ['ɴ', 'n'], ['ʀ', 'r'], ['ꜱ', 's'], ['ᴛ', 't'],
  ].map(([from, to]) => [from.charCodeAt(0), to.charCodeAt(0)]),
);

/** Leetspeak digits and symbols mapped to the letter they stand for. */
const LEET = new Map<number, number>(
  [
    ['0', 'o'], ['1', 'i'], ['3', 'e'], ['4', 'a'], ['5', 's'], ['7', 't'], ['$', 's'], ['@', 'a'],
  ].map(([from, to]) => [from.charCodeAt(0), to.charCodeAt(0)]),
);

const MIN_LATIN_LETTERS_FOR_LEET = 2;

/** Rewrites look-alikes and leetspeak word by word, in place; the length never changes. */
function mapWordConfusables(buffer: CodeBuffer): void {
  const { codes } = buffer;
  let start = 0;
  while (start < codes.length) {
    if (!isWordCode(codes[start])) {
      start += 1;
      continue;
    }
    let end = start;
    while (end < codes.length && isWordCode(codes[end])) end += 1;
    mapWord(codes, start, end);
    start = end;
  }
}

function mapWord(codes: number[], start: number, end: number): void {
  let latin = 0;
  let confusable = 0;
  let otherLetters = 0;
  for (let index = start; index < end; index += 1) {
    const code = codes[index];
    if (isLatinLetter(code)) latin += 1;
    else if (CONFUSABLES.has(code)) confusable += 1;
    else if (code >= 0x80) otherLetters += 1;
  }

  // A word of Cyrillic with a few Latin-like letters ("игнор") stays Cyrillic, so rules in Russian still match.
  const mapConfusables = confusable > 0 && (latin > 0 || otherLetters === 0);
  if (mapConfusables) latin += confusable;
  const mapLeet = latin >= MIN_LATIN_LETTERS_FOR_LEET && !isEmailLocalPart(codes, end);

  for (let index = start; index < end; index += 1) {
    const code = codes[index];
    if (mapConfusables && CONFUSABLES.has(code)) codes[index] = CONFUSABLES.get(code) as number;
    else if (mapLeet && LEET.has(code)) codes[index] = LEET.get(code) as number;
  }
}

/** True when the word ending at `end` continues as ".letter", as in "name@bank.com", so its "@" is kept. */
function isEmailLocalPart(codes: readonly number[], end: number): boolean {
  return codes[end] === 0x2e && isLatinLetter(codes[end + 1]);
}

function isLatinLetter(code: number | undefined): boolean {
  return code !== undefined && code >= 0x61 && code <= 0x7a;
}

/** Word characters for the word passes: letters, digits and the leetspeak symbols "$" and "@". */
function isWordCode(code: number | undefined): boolean {
  if (code === undefined) return false;
  if (code < 0x80) return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x24 || code === 0x40;
  // Surrogate halves of astral letters count as word characters so the pair stays in one word.
  if (code >= 0xd800 && code <= 0xdfff) return true;
  return LETTER_OR_DIGIT.test(String.fromCharCode(code));
}

const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;

function codesToString(codes: readonly number[]): string {
  const chunkSize = 8192;
  let text = '';
  for (let index = 0; index < codes.length; index += chunkSize) {
    text += String.fromCharCode(...codes.slice(index, index + chunkSize));
  }
  return text;
}
