// Decision records and ledger entries for the export benchmarks, in the shape the decision
// pipeline writes them.
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { canonicalJson, sha256Hex } from '../../libs/common/src/index.js';
import type { PostgresLedger } from '../../libs/audit/src/index.js';

/** The use case of every seeded decision. */
export const EXPORT_USE_CASE = 'bench-credit-limit';

/**
 * Writes `count` decision records of EXPORT_USE_CASE with their decision.created ledger entries, in
 * transactions of 1,000, in the shape the decision pipeline writes them.
 */
export async function seedDecisions(source: DataSource, ledger: PostgresLedger, count: number, createdAt: string): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const size = Math.min(1000, count - start);
    const decisions = Array.from({ length: size }, (_, i) => {
      const n = start + i;
      const id = randomUUID();
      const outcome = (['APPROVE', 'DECLINE', 'REFER'] as const)[n % 3];
      const tenant = n % 2 === 0 ? 'bench-bank-a' : 'bench-bank-b';
      const score = (n % 1000) / 1000;
      const record = {
        decisionId: id,
        useCase: EXPORT_USE_CASE,
        tenant,
        outcome,
        score,
        model: { version: 'logreg-1.0.0', sha256: 'a'.repeat(64) },
        reasonCodes: ['DTI_HIGH', 'THIN_FILE'],
        features: { debt_to_income: 0.41, months_on_book: n % 120, income: 52000.5 },
      };
      const recordJson = canonicalJson(record);
      return { id, tenant, outcome, score, recordJson, recordDigest: sha256Hex(recordJson) };
    });
    await source.transaction(async (manager) => {
      const receipts = await ledger.appendMany(
        manager,
        decisions.map((decision) => ({
          type: 'decision.created',
          tenant: decision.tenant,
          actor: 'bench-app',
          payload: { decisionId: decision.id, useCase: EXPORT_USE_CASE, outcome: decision.outcome, recordDigest: decision.recordDigest },
        })),
      );
      await manager.query(
        `INSERT INTO decisions.decision_records
           (id, tenant, use_case, request_id, actor, outcome, score, model_version, record_json, record_digest, ledger_seq, ledger_hash, created_at)
         SELECT id, tenant, $3, 'req-' || id::text, 'bench-app', outcome, score, 'logreg-1.0.0', record_json, digest, seq, hash, $4::timestamptz
           FROM unnest($1::uuid[], $2::text[], $5::text[], $6::float8[], $7::text[], $8::text[], $9::bigint[], $10::text[])
                AS d(id, tenant, outcome, score, record_json, digest, seq, hash)`,
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
        ],
      );
    });
  }
}

