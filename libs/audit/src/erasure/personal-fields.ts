import { openAesGcm, sealAesGcm } from '../../../common/src/index.js';
import type { SubjectKey, SubjectKeyState } from './subject-keys.js';

/** The value stored in place of a personal field while its subject key exists. */
export const SEALED = 'sealed';
/** The value a personal field reads as once its subject was erased (or its key cannot be read). */
export const ERASED = 'erased';

/** The fields of one feature-view read that describe the data subject (view, version and hash do not). */
export interface PersonalFeatureRead {
  entityKey: string;
  asOf: string;
  windowEnd: string;
  values: Record<string, number | string | null>;
}

/**
 * The personal fields of a decision or answer record. Under GDPR every input of an identified
 * person is personal data, so all of them are sealed, not only the directly identifying ones:
 * - every decision: the model inputs, their digest (which could be brute-forced from a small
 *   input space), the values shown beside the attributions, and the subject id;
 * - a use case with feature views, in addition: the request (amounts, balances, account ids,
 *   payment time) and, of each feature-view read, the entity key, the as-of time, the window end
 *   and the values (the activity of the payer's and the payee's accounts);
 * - an answer: the question and the answer text, in the record, in the reviewer's fields and in
 *   the judged sentences. Cited passages come from the bank's documents and stay readable.
 * Outcome, score, reason codes, contributions, versions and hashes stay readable: without the
 * inputs and the subject id they no longer relate to a person, and the ledger and the review
 * history need them.
 */
export interface PersonalFieldsRecord {
  id: string;
  tenant: string;
  attributions: { value: string }[];
  lineage: {
    inputDigest: string;
    featureValues: Record<string, string | number>;
    requestValues?: Record<string, string | number>;
    featureReads?: PersonalFeatureRead[];
  };
  answer?: { question: string; text: string; sentences: { sentence: string }[] };
  /** Present on sealed records: the key id and nonce || ciphertext || tag in base64. */
  personal?: { keyId: string; sealed: string };
}

/** The personal values of a record, as encrypted into `personal.sealed` (without the subject id). */
interface PersonalValues {
  inputDigest: string;
  featureValues: Record<string, string | number>;
  attributionValues: string[];
  requestValues?: Record<string, string | number>;
  featureReads?: PersonalFeatureRead[];
  answer?: { question: string; text: string; sentences: string[] };
}

interface SealedPayload extends PersonalValues {
  subjectId: string;
}

/** Reviewer fields of an answer that repeat the question and the answer; the other ones quote documents. */
const ANSWER_PERSONAL_FIELDS = new Set(['question', 'draft_answer']);

/** Whether a stored record's personal fields are readable, erased, or were never sealed. */
export type PersonalDataState = 'open' | 'erased' | 'unsealed';

/**
 * Returns a copy of `record` whose personal fields are replaced by `sealed` and encrypted under
 * the subject key into `personal`. The record digest is then taken over this form, so destroying
 * the key later changes no stored byte and the ledger, proofs and exports still verify.
 */
export function sealPersonalFields<T extends PersonalFieldsRecord>(record: T, subjectId: string, key: SubjectKey): T {
  const payload: SealedPayload = { subjectId, ...personalValues(record) };
  const sealed = sealAesGcm(key.key, JSON.stringify(payload), recordAssociatedData(record, key.keyId));
  return { ...withPersonalValues(record, markedValues(record, SEALED)), personal: { keyId: key.keyId, sealed: sealed.toString('base64') } };
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
      return { record: withPersonalValues(record, payload), state: 'open', subjectId: payload.subjectId };
    } catch {
      // Falls through: a ciphertext that does not open reads as erased, never as a wrong value.
    }
  }
  return { record: withPersonalValues(record, markedValues(record, ERASED)), state: 'erased', subjectId: null };
}

/** Collects the personal values of a plain record. */
function personalValues(record: PersonalFieldsRecord): PersonalValues {
  const { lineage, answer } = record;
  return {
    inputDigest: lineage.inputDigest,
    featureValues: answer ? pick(lineage.featureValues, ANSWER_PERSONAL_FIELDS) : lineage.featureValues,
    attributionValues: record.attributions.map((attribution) => attribution.value),
    ...(lineage.requestValues ? { requestValues: lineage.requestValues } : {}),
    ...(lineage.featureReads
      ? { featureReads: lineage.featureReads.map(({ entityKey, asOf, windowEnd, values }) => ({ entityKey, asOf, windowEnd, values })) }
      : {}),
    ...(answer ? { answer: { question: answer.question, text: answer.text, sentences: answer.sentences.map((entry) => entry.sentence) } } : {}),
  };
}

/** Returns the personal values of `record` with every value replaced by `marker`, keeping names and counts. */
function markedValues(record: PersonalFieldsRecord, marker: string): PersonalValues {
  return markLeaves(personalValues(record), marker) as PersonalValues;
}

function markLeaves(value: unknown, marker: string): unknown {
  if (Array.isArray(value)) return value.map((item) => markLeaves(item, marker));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, markLeaves(item, marker)]));
  return marker;
}

/**
 * Returns a copy of `record` with its personal fields set from `values`. A field the values lack
 * (a ciphertext written before the field was sealed) reads as erased.
 */
function withPersonalValues<T extends PersonalFieldsRecord>(record: T, values: PersonalValues): T {
  const erased = markedValues(record, ERASED);
  const lineage = record.lineage;
  const reads = values.featureReads ?? erased.featureReads;
  const answer = values.answer ?? erased.answer;
  return {
    ...record,
    attributions: record.attributions.map((attribution, index) => ({ ...attribution, value: values.attributionValues[index] ?? ERASED })),
    lineage: {
      ...lineage,
      inputDigest: values.inputDigest,
      featureValues: { ...lineage.featureValues, ...values.featureValues },
      ...(lineage.requestValues ? { requestValues: values.requestValues ?? erased.requestValues } : {}),
      ...(lineage.featureReads ? { featureReads: lineage.featureReads.map((read, index) => ({ ...read, ...(reads?.[index] ?? erased.featureReads?.[index]) })) } : {}),
    },
    ...(record.answer && answer
      ? {
          answer: {
            ...record.answer,
            question: answer.question,
            text: answer.text,
            sentences: record.answer.sentences.map((entry, index) => ({ ...entry, sentence: answer.sentences[index] ?? ERASED })),
          },
        }
      : {}),
  };
}

function pick(values: Record<string, string | number>, names: ReadonlySet<string>): Record<string, string | number> {
  return Object.fromEntries(Object.entries(values).filter(([name]) => names.has(name)));
}

/** Builds the associated data: tenant, record id and key id, so a ciphertext moved to another record fails to open. */
function recordAssociatedData(record: { id: string; tenant: string }, keyId: string): Buffer {
  return Buffer.from(JSON.stringify(['decision-record', record.tenant, record.id, keyId]), 'utf8');
}
