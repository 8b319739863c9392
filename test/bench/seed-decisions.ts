// Decision records and ledger entries for the export benchmarks, in the shape the decision
// pipeline writes them.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { canonicalJson, sha256Hex } from '../../libs/common/src/index.js';
import type { PostgresLedger } from '../../libs/audit/src/index.js';
import { REPO_ROOT } from '../support/databases.js';

/** The use case of every seeded decision. */
export const EXPORT_USE_CASE = 'bench-credit-limit';

/**
 * The records the benchmarks seed:
 * - `credit` (the default): a German Credit decision as the pipeline writes it, with 18
 *   attributions, the lineage with its feature values and hashes, and four reason codes with
 *   descriptions. Its personal fields are sealed under a subject key, which makes the canonical
 *   JSON about 4.4 KB (an unsealed one is about 3.2 KB). Two decisions share a subject, and 1% of
 *   the subjects are erased, so the export marks their decisions `erased`.
 * - `compact`: a record of about 300 bytes without personal data, the one the benchmarks seeded
 *   before the credit shape, kept to compare with the earlier results in BENCHMARKS.md.
 */
export type SeedRecordShape = 'credit' | 'compact';

export function seedRecordShape(value: string | undefined): SeedRecordShape {
  if (value === undefined || value === 'credit') return 'credit';
  if (value === 'compact') return 'compact';
  throw new Error(`BENCH_EXPORT_RECORD must be credit or compact, got ${value}`);
}

/** German Credit columns that the credit use case drops before scoring. */
const DROPPED_FIELDS = ['foreign_worker', 'personal_status_sex'];
const REASONS = [
  { code: 'RB21', description: 'Checking account is overdrawn' },
  { code: 'RB08', description: 'Excessive obligations in relation to income' },
  { code: 'RB16', description: 'Number of credit obligations already outstanding with us' },
  { code: 'RB10', description: 'No co-applicant or guarantor to support the application' },
  { code: 'RB03', description: 'Length of employment is too short' },
  { code: 'RB12', description: 'Insufficient savings or investments' },
];

/** Reads the applicants of ../shared/data/tabular/german_credit_statlog, as column name to value. */
function germanCreditRows(): Record<string, string>[] {
  const text = readFileSync(join(REPO_ROOT, '..', 'shared', 'data', 'tabular', 'german_credit_statlog', 'german_credit.csv'), 'utf8');
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const columns = header.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [columns[i], value])));
}

/** Returns a value between -1 and 1 with the digits of a double, as model contributions have. */
function contribution(): number {
  return Math.random() * 2 - 1;
}

interface SeededDecision {
  id: string;
  tenant: string;
  outcome: string;
  score: number;
  requestId: string;
  recordJson: string;
  recordDigest: string;
}

interface SeedContext {
  shape: SeedRecordShape;
  applicants: Record<string, string>[];
  /** Subject key ids, one per two decisions, in seeding order. */
  subjectKeys: string[];
}

function compactRecord(id: string, tenant: string, outcome: string, score: number, n: number): Record<string, unknown> {
  return {
    decisionId: id,
    useCase: EXPORT_USE_CASE,
    tenant,
    outcome,
    score,
    model: { version: 'logreg-1.0.0', sha256: 'a'.repeat(64) },
    reasonCodes: ['DTI_HIGH', 'THIN_FILE'],
    features: { debt_to_income: 0.41, months_on_book: n % 120, income: 52000.5 },
  };
}

/** Builds a record in the shape DecisionService writes for the credit use case, with its personal fields sealed. */
function creditRecord(id: string, tenant: string, outcome: string, score: number, requestId: string, n: number, context: SeedContext): Record<string, unknown> {
  const applicant = context.applicants[n % context.applicants.length];
  const features = Object.keys(applicant).filter((name) => !DROPPED_FIELDS.includes(name) && name !== 'class_1good_2bad');
  const attributions = features.map((feature) => ({ feature, value: 'sealed', contribution: contribution() })).sort((a, b) => b.contribution - a.contribution);
  const reasonCodes = attributions.slice(0, 4).map((attribution, i) => ({ ...REASONS[(n + i) % REASONS.length], contribution: attribution.contribution }));
  const featureValues = Object.fromEntries(features.map((feature) => [feature, 'sealed']));
  // The sealed payload: nonce, ciphertext of the feature values, attribution values, input digest
  // and subject id, and tag, as sealPersonalFields writes it (the export never opens it).
  const plaintextBytes = JSON.stringify({ applicant, subjectId: `applicant-${n >> 1}`, inputDigest: 'f'.repeat(64) }).length + 18 * 8;
  return {
    actor: 'bench-app',
    attributions,
    createdAt: '2026-03-01T12:00:00.000Z',
    id,
    lineage: {
      datasetVersion: '1',
      droppedFields: DROPPED_FIELDS,
      featureValues,
      inputDigest: 'sealed',
      modelArtifactSha256: sha256Hex(`model-${tenant}`),
      modelVersion: 'credit-application@1',
      policyHash: sha256Hex('policy'),
      reasonCodeMapHash: sha256Hex('reason codes'),
      referenceLogit: -0.8472978603872036,
      useCaseConfigHash: sha256Hex('use case'),
      useCaseVersion: '2026-12-04.1',
    },
    modelVersion: 'credit-application@1',
    outcome,
    personal: { keyId: context.subjectKeys[n >> 1], sealed: randomBytes(12 + plaintextBytes + 16).toString('base64') },
    policyVersion: '2026-12-04.1+212f655a2390',
    reasonCodes,
    requestId,
    reviewStatus: outcome === 'REFER' ? 'PENDING' : 'NOT_REQUIRED',
    score,
    tenant,
    useCase: EXPORT_USE_CASE,
  };
}

function seededDecision(n: number, context: SeedContext): SeededDecision {
  const id = randomUUID();
  const outcome = (['APPROVE', 'DECLINE', 'REFER'] as const)[n % 3];
  const tenant = n % 2 === 0 ? 'bench-bank-a' : 'bench-bank-b';
  const score = context.shape === 'compact' ? (n % 1000) / 1000 : Math.abs(contribution());
  const requestId = `req-${id}`;
  const record = context.shape === 'compact' ? compactRecord(id, tenant, outcome, score, n) : creditRecord(id, tenant, outcome, score, requestId, n, context);
  const recordJson = canonicalJson(record);
  return { id, tenant, outcome, score, requestId, recordJson, recordDigest: sha256Hex(recordJson) };
}

/**
 * Writes the subject keys of `count` credit decisions, two decisions per subject, with every
 * hundredth subject erased, and returns their key ids in order. The wrapped keys are random: the
 * export only reads whether a key was erased.
 */
async function seedSubjectKeys(source: DataSource, count: number): Promise<string[]> {
  const keyIds = Array.from({ length: Math.ceil(count / 2) }, () => randomUUID());
  for (let start = 0; start < keyIds.length; start += 1000) {
    const slice = keyIds.slice(start, start + 1000);
    const erased = slice.map((_, i) => (start + i) % 100 === 99);
    await source.query(
      `INSERT INTO audit.subject_keys (key_id, tenant, subject_ref, wrapped_key, created_at, erased_at, erased_ledger_seq)
       SELECT key_id, CASE WHEN n % 2 = 0 THEN 'bench-bank-a' ELSE 'bench-bank-b' END, encode(sha256(key_id::text::bytea), 'hex'),
              CASE WHEN erased THEN NULL ELSE substring(sha256(key_id::text::bytea) || sha256(key_id::text::bytea) FROM 1 FOR 60) END, now(),
              CASE WHEN erased THEN now() END, CASE WHEN erased THEN 1 END
         FROM unnest($1::uuid[], $2::boolean[]) WITH ORDINALITY AS k(key_id, erased, n)`,
      [slice, erased],
    );
  }
  return keyIds;
}

/**
 * Writes `count` decision records of EXPORT_USE_CASE with their decision.created ledger entries, in
 * transactions of 1,000, in the shape the decision pipeline writes them (see SeedRecordShape).
 */
export async function seedDecisions(source: DataSource, ledger: PostgresLedger, count: number, createdAt: string, shape: SeedRecordShape = 'credit'): Promise<void> {
  const context: SeedContext = {
    shape,
    applicants: shape === 'credit' ? germanCreditRows() : [],
    subjectKeys: shape === 'credit' ? await seedSubjectKeys(source, count) : [],
  };
  for (let start = 0; start < count; start += 1000) {
    const size = Math.min(1000, count - start);
    const decisions = Array.from({ length: size }, (_, i) => seededDecision(start + i, context));
    await source.transaction(async (manager) => {
      const receipts = await ledger.appendMany(
        manager,
        decisions.map((decision) => ({
          type: 'decision.created',
          tenant: decision.tenant,
          actor: 'bench-app',
          payload: {
            decisionId: decision.id,
            useCase: EXPORT_USE_CASE,
            outcome: decision.outcome,
            ...(shape === 'credit' ? { modelVersion: 'credit-application@1', score: decision.score, requestId: decision.requestId } : {}),
            recordDigest: decision.recordDigest,
          },
        })),
      );
      await manager.query(
        `INSERT INTO decisions.decision_records
           (id, tenant, use_case, request_id, actor, outcome, score, model_version, record_json, record_digest, ledger_seq, ledger_hash, created_at)
         SELECT id, tenant, $3, request_id, 'bench-app', outcome, score, $11, record_json, digest, seq, hash, $4::timestamptz
           FROM unnest($1::uuid[], $2::text[], $5::text[], $6::float8[], $7::text[], $8::text[], $9::bigint[], $10::text[], $12::text[])
                AS d(id, tenant, outcome, score, record_json, digest, seq, hash, request_id)`,
        [
          decisions.map((decision) => decision.id),
          decisions.map((decision) => decision.tenant),
          EXPORT_USE_CASE,
          createdAt,
          decisions.map((decision) => decision.outcome),
          decisions.map((decision) => decision.score),
          decisions.map((decision) => decision.recordJson),
          decisions.map((decision) => decision.recordDigest),
          receipts.map((receipt) => receipt.seq),
          receipts.map((receipt) => receipt.hash),
          shape === 'credit' ? 'credit-application@1' : 'logreg-1.0.0',
          decisions.map((decision) => decision.requestId),
        ],
      );
    });
  }
}
