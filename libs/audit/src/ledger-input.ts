import { BadUserInputError, canonicalJson, type FieldError } from '../../common/src/index.js';
import type { LedgerEntryInput } from './ledger.types.js';

/** Dotted lowercase event type such as `decision.created` or `review.override`. */
const ENTRY_TYPE_PATTERN = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/;

/** Maximum length of type, tenant and actor, in UTF-16 code units. */
const MAX_NAME_LENGTH = 200;

/**
 * Checks an entry before it is hashed, and raises BadUserInputError naming every invalid field.
 * Returns the canonical JSON of the payload, which the caller can compare with what the database
 * stored.
 */
export function validateLedgerEntryInput(entry: LedgerEntryInput): string {
  const fieldErrors: FieldError[] = [];

  if (typeof entry.type !== 'string' || !ENTRY_TYPE_PATTERN.test(entry.type) || entry.type.length > MAX_NAME_LENGTH) {
    fieldErrors.push({
      field: '/type',
      message: `must be a dotted lowercase event type such as "decision.created" (at most ${MAX_NAME_LENGTH} characters)`,
    });
  }
  checkName(entry.tenant, '/tenant', fieldErrors);
  checkName(entry.actor, '/actor', fieldErrors);

  let payloadJson = '';
  if (typeof entry.payload !== 'object' || entry.payload === null || Array.isArray(entry.payload)) {
    fieldErrors.push({ field: '/payload', message: 'must be a JSON object' });
  } else {
    try {
      payloadJson = canonicalJson(entry.payload);
    } catch (error) {
      fieldErrors.push({ field: '/payload', message: `must contain only JSON values: ${(error as Error).message}` });
    }
    // PostgreSQL's jsonb cannot store U+0000, so the insert would fail after the hash was computed.
    if (payloadJson.includes('\\u0000')) {
      fieldErrors.push({ field: '/payload', message: 'must not contain the character U+0000, which jsonb cannot store' });
    }
  }

  if (fieldErrors.length > 0) {
    throw new BadUserInputError('The ledger entry is invalid. Fix the listed fields.', fieldErrors);
  }
  return payloadJson;
}

function checkName(value: unknown, field: string, fieldErrors: FieldError[]): void {
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_NAME_LENGTH) {
    fieldErrors.push({ field, message: `must be a non-empty string of at most ${MAX_NAME_LENGTH} characters` });
  }
}
