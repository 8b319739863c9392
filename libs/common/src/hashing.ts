import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * Serializes a JSON value by RFC 8785 (JSON Canonicalization Scheme): sorted keys, no whitespace,
 * ECMAScript number formatting. Rejects values that JSON cannot carry (undefined, NaN, Infinity).
 */
export function canonicalJson(value: unknown): string {
  assertJsonValue(value, '$');
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonicalJson: value is not serializable as JSON');
  return text;
}

/**
 * Returns the lowercase hex SHA-256 of a string (UTF-8) or bytes. The one-shot crypto.hash
 * measured two to four times as fast as createHash on 350-byte inputs such as ledger entries
 * (Node.js 24).
 */
export function sha256Hex(data: string | Uint8Array): string {
  return hash('sha256', data, 'hex');
}

/** Returns the SHA-256 of the RFC 8785 canonical form of a JSON value. */
export function digestJson(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}

function assertJsonValue(value: unknown, path: string): void {
  if (value === null) return;
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: ${path} is ${value}, which JSON cannot represent`);
      return;
    case 'object':
      if (Array.isArray(value)) {
        value.forEach((item, index) => assertJsonValue(item, `${path}[${index}]`));
        return;
      }
      if (value instanceof Date) throw new TypeError(`canonicalJson: ${path} is a Date; convert it to an ISO string first`);
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        if (item === undefined) throw new TypeError(`canonicalJson: ${path}.${key} is undefined; omit the key or use null`);
        assertJsonValue(item, `${path}.${key}`);
      }
      return;
    default:
      throw new TypeError(`canonicalJson: ${path} has type ${typeof value}, which JSON cannot represent`);
  }
}
