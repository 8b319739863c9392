// Check-digit algorithms used by the validating recognizers. Each function takes the identifier
// with separators already removed.

/** Checks the Luhn (mod 10) check digit of a string of ASCII digits, as used by payment card numbers. */
export function isLuhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let index = digits.length - 1; index >= 0; index -= 1) {
    let digit = digits.charCodeAt(index) - 48;
    if (double) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * Checks the ISO 7064 MOD 97-10 check digits of an IBAN in electronic format (uppercase letters
 * and digits, no spaces): moving the first four characters to the end and reading letters as
 * A=10 … Z=35 must give a number whose remainder modulo 97 is 1.
 */
export function isIbanChecksumValid(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const character of rearranged) {
    const code = character.charCodeAt(0);
    // Letters expand to two digits, so the remainder is carried over both of them.
    if (code >= 65 && code <= 90) remainder = (remainder * 100 + (code - 55)) % 97;
    else remainder = (remainder * 10 + (code - 48)) % 97;
  }
  return remainder === 1;
}

/** Checks the ABA routing number check digit: weights 3, 7, 1 repeated over the nine digits, sum divisible by 10. */
export function isAbaChecksumValid(digits: string): boolean {
  const weights = [3, 7, 1];
  let sum = 0;
  for (let index = 0; index < 9; index += 1) sum += (digits.charCodeAt(index) - 48) * weights[index % 3];
  return sum % 10 === 0;
}

/** True when every character of a non-empty string is the same, such as 0000000000000000. */
export function isSingleRepeatedDigit(digits: string): boolean {
  return digits.length > 0 && [...digits].every((digit) => digit === digits[0]);
}
