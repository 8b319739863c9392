import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/*
 * Keyed digests of free text that people type, for ledger payloads. A ledger payload can never be
 * changed or purged, and a plain SHA-256 of a short text (a case number, a name) can be found by
 * hashing candidates. So a payload carries HMAC-SHA-256 of the text's UTF-8 bytes, keyed with a
 * random 32-byte salt of its own. The salt is stored beside the text in an ordinary row, never in
 * the ledger, and the retention purge clears the text and the salt together. Anyone who still has
 * both can prove that they match the ledger entry. After the purge the digest relates to nothing
 * anyone can test.
 */

/** Length of a text salt in bytes, equal to the HMAC-SHA-256 output (RFC 2104 advises a key at least that long). */
export const TEXT_SALT_BYTES = 32;

/** Returns a new random salt of TEXT_SALT_BYTES bytes, one per text. */
export function newTextSalt(): Buffer {
  return randomBytes(TEXT_SALT_BYTES);
}

/** Returns the lowercase hex HMAC-SHA-256 of `text` (UTF-8) under `salt`. */
export function keyedTextDigest(text: string, salt: Uint8Array): string {
  return createHmac('sha256', salt).update(text, 'utf8').digest('hex');
}

/** Tells whether `text` and `salt` produce `digest`, comparing in constant time. */
export function keyedTextDigestMatches(text: string, salt: Uint8Array, digest: string): boolean {
  const expected = Buffer.from(keyedTextDigest(text, salt), 'hex');
  const actual = Buffer.from(digest, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
