// Boundary tests shared by the recognizers: a match must not continue a longer word or number.

const WORD_CHARACTER = /[\p{L}\p{N}_]/u;

/** True when the UTF-16 unit at `index` is a letter, digit or underscore (false outside the string). */
export function isWordCharacterAt(text: string, index: number): boolean {
  if (index < 0 || index >= text.length) return false;
  return WORD_CHARACTER.test(text[index]);
}

/** True when the character at `index` is an ASCII digit. */
export function isDigitAt(text: string, index: number): boolean {
  const code = index >= 0 && index < text.length ? text.charCodeAt(index) : -1;
  return code >= 48 && code <= 57;
}
