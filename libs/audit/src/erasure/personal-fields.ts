import { openAesGcm, sealAesGcm } from '../../../common/src/index.js';
import type { SubjectKey, SubjectKeyState } from './subject-keys.js';

/** The value stored in place of a personal field while its subject key exists. */
export const SEALED = 'sealed';
/** The value a personal field reads as once its subject was erased (or its key cannot be read). */
export const ERASED = 'erased';

/**
 * The personal fields of a decision record: the applicant's inputs (every feature value and the
 * digest of them, which could be brute-forced from a small input space), the values shown beside
 * the attributions, and the subject id. Under GDPR every input of an identified applicant is
 * personal data, so all of them are sealed, not only the directly identifying ones. Outcome,
 * score, reason codes and contributions stay readable: without the inputs and the subject id they
 * no longer relate to a person, and the ledger and the review history need them.
 */
export interface PersonalFieldsRecord {
  id: string;
  tenant: string;
  attributions: { value: string }[];
  lineage: { inputDigest: string; featureValues: Record<string, string | number> };
  /** Present on sealed records: the key id and nonce || ciphertext || tag in base64. */
  personal?: { keyId: string; sealed: string };
}

interface SealedPayload {
  subjectId: string;
  inputDigest: string;
  featureValues: Record<string, string | number>;
  attributionValues: string[];
}

/** Whether a stored record's personal fields are readable, erased, or were never sealed. */
export type PersonalDataState = 'open' | 'erased' | 'unsealed';

/**
 * Returns a copy of `record` whose personal fields are replaced by `sealed` and encrypted under
 * the subject key into `personal`. The record digest is then taken over this form, so destroying
 * the key later changes no stored byte and the ledger, proofs and exports still verify.
 */
export function sealPersonalFields<T extends PersonalFieldsRecord>(record: T, subjectId: string, key: SubjectKey): T {
  const payload: SealedPayload = {
    subjectId,
    inputDigest: record.lineage.inputDigest,
    featureValues: record.lineage.featureValues,
    attributionValues: record.attributions.map((attribution) => attribution.value),
  };
  const sealed = sealAesGcm(key.key, JSON.stringify(payload), recordAssociatedData(record, key.keyId));
  return {
    ...record,
    attributions: record.attributions.map((attribution) => ({ ...attribution, value: SEALED })),
    lineage: {
      ...record.lineage,
      inputDigest: SEALED,
      featureValues: Object.fromEntries(Object.keys(record.lineage.featureValues).map((name) => [name, SEALED])),
    },
    personal: { keyId: key.keyId, sealed: sealed.toString('base64') },
  };
}

/**
 * Returns the record with its personal fields restored when its key exists, or set to `erased`
 * when the key was destroyed, is missing or does not open the ciphertext. A failed decryption
 * is caught here, so replay, exports and the API still show the rest of the record.
 */
export function openPersonalFields<T extends PersonalFieldsRecord>(
  record: T,
  keys: ReadonlyMap<string, SubjectKeyState>,
): { record: T; state: PersonalDataState; subjectId: string | null } {
  if (!record.personal) return { record, state: 'unsealed', subjectId: null };
  const keyState = keys.get(record.personal.keyId);
  if (keyState?.state === 'active') {
    try {
      const plaintext = openAesGcm(keyState.key, Buffer.from(record.personal.sealed, 'base64'), recordAssociatedData(record, record.personal.keyId));
      const payload = JSON.parse(plaintext.toString('utf8')) as SealedPayload;
      return {
        record: {
          ...record,
          attributions: record.attributions.map((attribution, index) => ({ ...attribution, value: payload.attributionValues[index] ?? ERASED })),
          lineage: { ...record.lineage, inputDigest: payload.inputDigest, featureValues: payload.featureValues },
        },
        state: 'open',
        subjectId: payload.subjectId,
      };
    } catch {
      // Falls through: a ciphertext that does not open reads as erased, never as a wrong value.
    }
  }
  return {
    record: {
      ...record,
      attributions: record.attributions.map((attribution) => ({ ...attribution, value: ERASED })),
      lineage: {
        ...record.lineage,
        inputDigest: ERASED,
        featureValues: Object.fromEntries(Object.keys(record.lineage.featureValues).map((name) => [name, ERASED])),
      },
    },
    state: 'erased',
    subjectId: null,
  };
}

/** Builds the associated data: tenant, record id and key id, so a ciphertext moved to another record fails to open. */
function recordAssociatedData(record: { id: string; tenant: string }, keyId: string): Buffer {
  return Buffer.from(JSON.stringify(['decision-record', record.tenant, record.id, keyId]), 'utf8');
}
