/**
 * Finders that run on the original text, before normalization: encoded payloads that may hide an
 * instruction, and invisible characters used to smuggle or split one.
 */

export const ENCODINGS = ['base64', 'hex', 'percent', 'unicode-escape', 'html-entity'] as const;
export type Encoding = (typeof ENCODINGS)[number];

export const INVISIBLE_KINDS = ['tag-characters', 'zero-width-in-words', 'bidi-controls'] as const;
export type InvisibleKind = (typeof INVISIBLE_KINDS)[number];

/** An encoded run in the original text and the text it decodes to. */
export interface EncodedPayload {
  start: number;
  end: number;
  decoded: string;
}

/** A range of the original text. */
export interface TextSpan {
  start: number;
  end: number;
}

/** Marks the ASCII characters of an alphabet, for scanning runs without a regular expression. */
function asciiTable(alphabet: string): Uint8Array {
  const table = new Uint8Array(128);
  for (const character of alphabet) table[character.charCodeAt(0)] = 1;
  return table;
}

const ALPHANUMERIC = asciiTable('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789');
/** The standard and URL-safe base64 alphabets, without the "=" padding. */
const BASE64_ALPHABET = asciiTable('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-');
const HEX_DIGITS = asciiTable('0123456789ABCDEFabcdef');
const MIN_BASE64_RUN = 16;
const MIN_HEX_RUN = 16;

function inTable(table: Uint8Array, code: number): boolean {
  return code < 128 && table[code] === 1;
}

/**
 * Regular expressions for the other encodings, each with a substring that any match contains, so
 * text without it is skipped at once. Boundaries keep a hex run from starting inside a word.
 */
const CANDIDATES: Record<Exclude<Encoding, 'base64'>, { pattern: RegExp; marker?: string }> = {
  // Separated ("69 67 6e") and escaped ("\\x69\\x67") hex; contiguous runs are found by findHexRuns.
  hex: { pattern: /(?<![0-9A-Za-z\\])[0-9A-Fa-f]{2}(?:[ :,-][0-9A-Fa-f]{2}){7,}(?![0-9A-Za-z])|(?:\\x[0-9A-Fa-f]{2}){4,}/g },
  percent: { pattern: /(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9._~+-])*%[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2}|[A-Za-z0-9._~+-])*/g, marker: '%' },
  'unicode-escape': { pattern: /(?:\\u[0-9A-Fa-f]{4}|\\u\{[0-9A-Fa-f]{1,6}\})+/g, marker: '\\u' },
  'html-entity': { pattern: /(?:&#(?:[0-9]{1,7}|[xX][0-9A-Fa-f]{1,6});)+/g, marker: '&#' },
};

/**
 * Escape-style encodings (percent, \u, &#) are only suspicious when they encode ASCII letters,
 * which never need escaping. This many escaped letters makes a run an obfuscated payload.
 */
const MIN_ESCAPED_LETTERS = 4;

/** Share of decoded characters that must be readable, and share that must be letters, for base64 and hex. */
const MIN_READABLE_SHARE = 0.9;
const MIN_LETTER_SHARE = 0.4;

/**
 * Finds runs of `encoding` in `text` that decode to readable text of at least `minDecodedLength`
 * characters. Random binary data (hashes, keys, images) decodes to unreadable bytes and is skipped,
 * so a SHA-256 digest or a JWT signature alone is never reported.
 */
export function findEncodedPayloads(text: string, encoding: Encoding, minDecodedLength: number): EncodedPayload[] {
  const payloads: EncodedPayload[] = [];
  for (const candidate of findCandidates(text, encoding)) {
    const decoded = decodeCandidate(text.slice(candidate.start, candidate.end), encoding);
    if (decoded !== undefined && decoded.length >= minDecodedLength) payloads.push({ ...candidate, decoded });
  }
  return payloads;
}

function findCandidates(text: string, encoding: Encoding): TextSpan[] {
  if (encoding === 'base64') return findBase64Runs(text);
  const { pattern, marker } = CANDIDATES[encoding];
  const runs = encoding === 'hex' ? findHexRuns(text) : [];
  if (marker !== undefined && !text.includes(marker)) return runs;
  return [...runs, ...[...text.matchAll(pattern)].map((match) => ({ start: match.index, end: match.index + match[0].length }))];
}

/** Finds runs of an even number, at least MIN_HEX_RUN, of hex digits that stand alone or follow "0x". */
function findHexRuns(text: string): TextSpan[] {
  const runs: TextSpan[] = [];
  let index = 0;
  while (index < text.length) {
    if (!inTable(HEX_DIGITS, text.charCodeAt(index))) {
      index += 1;
      continue;
    }
    let start = index;
    while (index < text.length && inTable(HEX_DIGITS, text.charCodeAt(index))) index += 1;
    const hasPrefix = start >= 2 && text[start - 1] === 'x' && text[start - 2] === '0';
    if (hasPrefix) start -= 2;
    const digits = index - start - (hasPrefix ? 2 : 0);
    const standsAlone = !inTable(ALPHANUMERIC, text.charCodeAt(start - 1)) && text[start - 1] !== '\\' && !inTable(ALPHANUMERIC, text.charCodeAt(index));
    if (digits >= MIN_HEX_RUN && digits % 2 === 0 && standsAlone) runs.push({ start, end: index });
  }
  return runs;
}

/** Finds maximal runs of base64 characters, with up to two "=" of padding, of at least MIN_BASE64_RUN characters. */
function findBase64Runs(text: string): TextSpan[] {
  const runs: TextSpan[] = [];
  let index = 0;
  while (index < text.length) {
    if (!inTable(BASE64_ALPHABET, text.charCodeAt(index))) {
      index += 1;
      continue;
    }
    const start = index;
    while (index < text.length && inTable(BASE64_ALPHABET, text.charCodeAt(index))) index += 1;
    let end = index;
    while (end < text.length && end - index < 2 && text[end] === '=') end += 1;
    if (index - start >= MIN_BASE64_RUN && text[end] !== '=') runs.push({ start, end });
    index = end;
  }
  return runs;
}

function decodeCandidate(candidate: string, encoding: Encoding): string | undefined {
  switch (encoding) {
    case 'base64':
      return readableText(Buffer.from(candidate.replaceAll('-', '+').replaceAll('_', '/'), 'base64'));
    case 'hex':
      return readableText(Buffer.from(candidate.replace(/\\x|0x|[ :,-]/g, ''), 'hex'));
    case 'percent':
      return decodeEscapes(candidate, /%([0-9A-Fa-f]{2})/g, 16, true);
    case 'unicode-escape':
      return decodeEscapes(candidate, /\\u\{?([0-9A-Fa-f]{1,6})\}?/g, 16, false);
    case 'html-entity':
      return decodeEscapes(candidate, /&#([xX]?)([0-9A-Fa-f]{1,7});/g, 10, false);
  }
}

const UTF8 = new TextDecoder('utf-8');
const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * Decodes bytes as UTF-8 and returns the text when it reads as text, else undefined. Invalid
 * UTF-8 shows up as U+FFFD; checking for it is much cheaper than a fatal decoder's exception.
 */
function readableText(bytes: Buffer): string | undefined {
  const decoded = UTF8.decode(bytes);
  if (decoded.includes(REPLACEMENT_CHARACTER)) return undefined;
  const characters = [...decoded];
  if (characters.length === 0) return undefined;
  const readable = characters.filter((character) => READABLE.test(character)).length;
  const letters = characters.filter((character) => LETTER.test(character)).length;
  if (readable / characters.length < MIN_READABLE_SHARE || letters / characters.length < MIN_LETTER_SHARE) return undefined;
  return decoded;
}

const READABLE = /^[\p{L}\p{N}\p{P}\p{S}\p{Zs}\n\r\t]$/u;
const LETTER = /^\p{L}$/u;

/**
 * Decodes every escape in `candidate` and returns the decoded text when at least
 * MIN_ESCAPED_LETTERS escapes encode ASCII letters. Percent escapes are bytes of UTF-8, the
 * others are code points; for HTML entities the first group is "x" for hexadecimal.
 */
function decodeEscapes(candidate: string, escape: RegExp, radix: number, utf8Bytes: boolean): string | undefined {
  let escapedLetters = 0;
  const bytes: number[] = [];
  let decoded = '';
  let last = 0;
  for (const match of candidate.matchAll(escape)) {
    const plain = candidate.slice(last, match.index);
    last = match.index + match[0].length;
    const digits = match.length > 2 ? match[2] : match[1];
    const value = Number.parseInt(digits, match.length > 2 && match[1] !== '' ? 16 : radix);
    if (isAsciiLetter(value)) escapedLetters += 1;
    if (utf8Bytes) {
      bytes.push(...Buffer.from(plain, 'latin1'), value);
    } else {
      decoded += plain + (value <= 0x10ffff ? String.fromCodePoint(value) : '');
    }
  }
  if (escapedLetters < MIN_ESCAPED_LETTERS) return undefined;
  if (!utf8Bytes) return decoded + candidate.slice(last);

  bytes.push(...Buffer.from(candidate.slice(last), 'latin1'));
  return UTF8.decode(Uint8Array.from(bytes));
}

function isAsciiLetter(value: number): boolean {
  return (value >= 0x41 && value <= 0x5a) || (value >= 0x61 && value <= 0x7a);
}

/** Zero-width characters that split a word without showing; the soft hyphen is left out because web text uses it for hyphenation. */
const ZERO_WIDTH = new Set([0x200b, 0x200c, 0x200d, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xfeff, 0x180e]);
const ANY_ZERO_WIDTH = /[\u200B-\u200D\u2060-\u2064\uFEFF\u180E]/;
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;
const TAG_CHARACTERS = /[\u{E0000}-\u{E007F}]+/gu;

/**
 * Finds invisible characters of `kind` and returns their spans when at least `minCount` of them
 * occur in the text; otherwise returns none. Tag characters and bidi controls are reported as
 * runs, zero-width characters as the word they split.
 */
export function findInvisibleCharacters(text: string, kind: InvisibleKind, minCount: number): TextSpan[] {
  const { spans, count } = countInvisible(text, kind);
  return count >= minCount ? spans : [];
}

function countInvisible(text: string, kind: InvisibleKind): { spans: TextSpan[]; count: number } {
  switch (kind) {
    case 'tag-characters':
      return runsOf(text, TAG_CHARACTERS, 2);
    case 'bidi-controls':
      return runsOf(text, BIDI_CONTROLS, 1);
    case 'zero-width-in-words':
      return zeroWidthInWords(text);
  }
}

/** Returns the runs that `pattern` matches and the number of characters in them; `unitsPerCharacter` is 2 for astral characters. */
function runsOf(text: string, pattern: RegExp, unitsPerCharacter: number): { spans: TextSpan[]; count: number } {
  const spans: TextSpan[] = [];
  let count = 0;
  for (const match of text.matchAll(pattern)) {
    spans.push({ start: match.index, end: match.index + match[0].length });
    count += match[0].length / unitsPerCharacter;
  }
  return { spans, count };
}

/**
 * Counts zero-width characters with a letter on both sides, and returns the words that contain
 * them. A word is a run of letters and zero-width characters; one pass visits each character once.
 */
function zeroWidthInWords(text: string): { spans: TextSpan[]; count: number } {
  const spans: TextSpan[] = [];
  if (!ANY_ZERO_WIDTH.test(text)) return { spans, count: 0 };

  let count = 0;
  let index = 0;
  while (index < text.length) {
    if (!isWordPart(text, index)) {
      index += 1;
      continue;
    }
    const wordStart = index;
    let splits = 0;
    while (index < text.length && isWordPart(text, index)) {
      if (ZERO_WIDTH.has(text.charCodeAt(index)) && isLetterAt(text, index - 1)) {
        let runEnd = index;
        while (runEnd < text.length && ZERO_WIDTH.has(text.charCodeAt(runEnd))) runEnd += 1;
        if (isLetterAt(text, runEnd)) splits += runEnd - index;
        index = runEnd;
      } else {
        index += 1;
      }
    }
    if (splits > 0) spans.push({ start: wordStart, end: index });
    count += splits;
  }
  return { spans, count };
}

function isWordPart(text: string, index: number): boolean {
  return ZERO_WIDTH.has(text.charCodeAt(index)) || isLetterAt(text, index);
}

function isLetterAt(text: string, index: number): boolean {
  if (index < 0 || index >= text.length) return false;
  return LETTER.test(text[index]);
}
