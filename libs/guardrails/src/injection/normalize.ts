/**
 * Text normalization for injection matching. Attackers hide trigger phrases behind full-width or
 * mathematical letters, accents, zero-width characters, Cyrillic or Greek look-alikes, leetspeak
 * and letters spaced apart ("i g n o r e"). The normalized text undoes those tricks, so rules are
 * written once in plain lowercase ASCII. Every normalized character keeps the range of the
 * original text it came from, so signals point at what the caller sent.
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
 * Normalizes `original` for matching in three passes.
 * 1. Per code point: drop default-ignorable characters (zero-width, soft hyphen, bidi controls,
 *    variation selectors) and decode Unicode tag characters to the ASCII they shadow. Then apply
 *    the NFKC compatibility mapping, remove diacritics, lowercase and fold typographic quotes and
 *    dashes. Each whitespace run becomes one space, or one newline when it contains a line break.
 * 2. Join runs of four or more single letters split by one separator character ("i.g.n.o.r.e").
 * 3. Per word: map Cyrillic, Greek and Armenian look-alikes to Latin letters when the word mixes
 *    scripts or consists only of look-alikes. Map leetspeak digits when the word has at least two
 *    Latin letters, so "1gn0re" becomes "ignore" but "$500" and "1002.9" stay as they are.
 * Use `sourceRange` to map a match in `text` back to the original.
 */
export function normalizeForMatching(original: string): NormalizedText {
  const folded = foldCodePoints(original);
  const foldedMask = wordMask(folded);
  const joined = joinSpacedLetters(folded, foldedMask);
  mapWordConfusables(joined, joined === folded ? foldedMask : wordMask(joined));
  return {
    text: codesToString(joined),
    starts: joined.starts.slice(0, joined.length),
    ends: joined.ends.slice(0, joined.length),
  };
}

/** Maps the range [start, end) of the normalized text to the range of the original text it came from. */
export function sourceRange(normalized: NormalizedText, start: number, end: number): { start: number; end: number } {
  if (end <= start) return { start: normalized.starts[start] ?? 0, end: normalized.starts[start] ?? 0 };
  return { start: normalized.starts[start], end: normalized.ends[end - 1] };
}

/** Normalized UTF-16 code units with, for each, the original range that produced it; only the first `length` entries are used. */
interface CodeBuffer {
  codes: Uint16Array;
  starts: Int32Array;
  ends: Int32Array;
  length: number;
}

function createBuffer(capacity: number): CodeBuffer {
  const size = Math.max(16, capacity);
  return { codes: new Uint16Array(size), starts: new Int32Array(size), ends: new Int32Array(size), length: 0 };
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
  // NFKD expands a few code points to several characters; pushCode grows the buffer when needed.
  const buffer = createBuffer(original.length);
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
  const last = buffer.length - 1;
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
  // NFKD applies the NFKC compatibility mapping (full-width, ligatures, mathematical letters) and
  // splits off diacritics, which are removed so that "ïgnore" matches "ignore". NFC then
  // recomposes what remains, such as Hangul syllables.
  else folded = character.normalize('NFKD').replace(COMBINING_MARK, '').toLowerCase().replace(COMBINING_MARK, '').normalize('NFC');

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
  const last = buffer.length - 1;
  if (last >= 0 && (buffer.codes[last] === SPACE || buffer.codes[last] === NEWLINE)) {
    if (code === NEWLINE) buffer.codes[last] = NEWLINE;
    buffer.ends[last] = end;
    return;
  }
  pushCode(buffer, code, start, end);
}

function pushCode(buffer: CodeBuffer, code: number, start: number, end: number): void {
  if (buffer.length === buffer.codes.length) growBuffer(buffer);
  const at = buffer.length;
  buffer.codes[at] = code;
  buffer.starts[at] = start;
  buffer.ends[at] = end;
  buffer.length = at + 1;
}

function growBuffer(buffer: CodeBuffer): void {
  const grown = createBuffer(buffer.codes.length * 2);
  grown.codes.set(buffer.codes);
  grown.starts.set(buffer.starts);
  grown.ends.set(buffer.ends);
  buffer.codes = grown.codes;
  buffer.starts = grown.starts;
  buffer.ends = grown.ends;
}

/** Separators that attackers put between single letters to split a trigger word. */
const LETTER_SEPARATORS = new Set([SPACE, 0x2e, 0x2d, 0x5f, 0x2a]); // space . - _ *
const MIN_SPACED_LETTERS = 4;

/**
 * Removes the separators inside runs of at least four single word characters that are separated
 * by one separator character each, such as "i g n o r e" or "s.y.s.t.e.m". The run must use one
 * separator throughout, so "a-b c.d" is left alone. Returns `buffer` itself when nothing is joined.
 */
function joinSpacedLetters(buffer: CodeBuffer, word: Uint8Array): CodeBuffer {
  const { codes, length } = buffer;
  const isSingle = (index: number) => index < length && word[index] === 1 && word[index - 1] !== 1 && word[index + 1] !== 1;

  let joined: CodeBuffer | undefined;
  let copied = 0;
  let index = 0;
  while (index < length) {
    if (!isSingle(index)) {
      index += 1;
      continue;
    }
    const separator = codes[index + 1];
    let count = 1;
    let cursor = index;
    while (LETTER_SEPARATORS.has(separator) && codes[cursor + 1] === separator && isSingle(cursor + 2)) {
      cursor += 2;
      count += 1;
    }
    if (count >= MIN_SPACED_LETTERS) {
      joined ??= createBuffer(length);
      copyRange(buffer, copied, index, joined);
      for (let position = index; position <= cursor; position += 2) copyRange(buffer, position, position + 1, joined);
      copied = cursor + 1;
    }
    index = cursor + 1;
  }
  if (joined === undefined) return buffer;
  copyRange(buffer, copied, length, joined);
  return joined;
}

function copyRange(from: CodeBuffer, start: number, end: number, to: CodeBuffer): void {
  for (let index = start; index < end; index += 1) pushCode(to, from.codes[index], from.starts[index], from.ends[index]);
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
function mapWordConfusables(buffer: CodeBuffer, word: Uint8Array): void {
  const { codes, length } = buffer;
  let start = 0;
  while (start < length) {
    if (word[start] !== 1) {
      start += 1;
      continue;
    }
    let end = start;
    while (end < length && word[end] === 1) end += 1;
    mapWord(codes, start, end, length);
    start = end;
  }
}

function mapWord(codes: Uint16Array, start: number, end: number, length: number): void {
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
  const mapLeet = latin >= MIN_LATIN_LETTERS_FOR_LEET && !isEmailLocalPart(codes, end, length);
  if (!mapConfusables && !mapLeet) return;

  for (let index = start; index < end; index += 1) {
    const code = codes[index];
    if (mapConfusables && CONFUSABLES.has(code)) codes[index] = CONFUSABLES.get(code) as number;
    else if (mapLeet && LEET.has(code)) codes[index] = LEET.get(code) as number;
  }
}

/** True when the word ending at `end` continues as ".letter", as in "name@bank.com", so its "@" is kept. */
function isEmailLocalPart(codes: Uint16Array, end: number, length: number): boolean {
  return end + 1 < length && codes[end] === 0x2e && isLatinLetter(codes[end + 1]);
}

function isLatinLetter(code: number): boolean {
  return code >= 0x61 && code <= 0x7a;
}

/** Word characters for the word passes: letters, digits and the leetspeak symbols "$" and "@". */
const ASCII_WORD = new Uint8Array(128);
for (let code = 0x61; code <= 0x7a; code += 1) ASCII_WORD[code] = 1;
for (let code = 0x30; code <= 0x39; code += 1) ASCII_WORD[code] = 1;
ASCII_WORD[0x24] = 1;
ASCII_WORD[0x40] = 1;

const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;

/** Marks each code unit of the buffer with 1 when it is a word character. */
function wordMask(buffer: CodeBuffer): Uint8Array {
  const mask = new Uint8Array(buffer.length);
  for (let index = 0; index < buffer.length; index += 1) {
    const code = buffer.codes[index];
    if (code < 0x80) mask[index] = ASCII_WORD[code];
    // Surrogate halves of astral letters count as word characters so the pair stays in one word.
    else if ((code >= 0xd800 && code <= 0xdfff) || LETTER_OR_DIGIT.test(String.fromCharCode(code))) mask[index] = 1;
  }
  return mask;
}

const STRING_CHUNK = 8192;

function codesToString(buffer: CodeBuffer): string {
  let text = '';
  for (let index = 0; index < buffer.length; index += STRING_CHUNK) {
    const chunk = buffer.codes.subarray(index, Math.min(buffer.length, index + STRING_CHUNK));
    // apply takes the typed array as an array-like, which is much faster than spreading it.
    text += String.fromCharCode.apply(null, chunk as unknown as number[]);
  }
  return text;
}
