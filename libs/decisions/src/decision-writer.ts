import type { DataSource } from 'typeorm';
import { getLogger } from '../../common/src/index.js';
import type { PostgresLedger, LedgerReceipt } from '../../audit/src/index.js';
import { insertCases, type CaseSeed } from '../../review/src/index.js';
import type { DecisionRecord } from './decision-record.js';

/** Most decisions written in one transaction; keeps statements far below PostgreSQL's 65,535 parameters. */
const MAX_BATCH = 200;

interface PendingDecision {
  record: DecisionRecord;
  /** The record's RFC 8785 text, stored as record_json. */
  recordJson: string;
  /** SHA-256 of recordJson. */
  recordDigest: string;
  /** The review case to open with the decision, when a routing rule matched. */
  reviewCase: CaseSeed | null;
  resolve(receipt: LedgerReceipt): void;
  reject(error: unknown): void;
}

const DECISION_COLUMNS = 13;

/**
 * Writes decision records and their ledger entries with group commit. Every append must hold the
 * ledger lock through its commit, so one decision per transaction would queue all callers behind
 * one WAL flush each. Instead, decisions that arrive while a batch is being written wait and go
 * together in the next transaction: one lock, two INSERTs and one flush for the whole batch. With
 * one caller at a time a batch contains one decision, so nothing waits longer than before.
 */
export class DecisionWriter {
  private readonly log = getLogger('decision-writer');
  private queue: PendingDecision[] = [];
  private writing = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
  ) {}

  /**
   * Resolves with the ledger receipt once the record, its entry and its review case (if any) are
   * committed. `recordJson` is canonicalJson(record) and `recordDigest` its SHA-256.
   */
  write(record: DecisionRecord, recordJson: string, recordDigest: string, reviewCase: CaseSeed | null = null): Promise<LedgerReceipt> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, recordJson, recordDigest, reviewCase, resolve, reject });
      if (!this.writing) {
        // Wait one event-loop turn so that callers woken by the same commit join one batch.
        this.writing = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const receipts = await this.writeBatch(batch);
          batch.forEach((pending, index) => pending.resolve(receipts[index]));
        } catch (error) {
          await this.retryOneByOne(batch, error);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** After a failed batch, writes each decision alone so one bad decision fails only its own call. */
  private async retryOneByOne(batch: PendingDecision[], error: unknown): Promise<void> {
    if (batch.length === 1) {
      batch[0].reject(error);
      return;
    }
    this.log.warn({ size: batch.length, code: (error as { code?: string }).code }, 'decision batch failed; writing its decisions one by one');
    for (const pending of batch) {
      try {
        const [receipt] = await this.writeBatch([pending]);
        pending.resolve(receipt);
      } catch (singleError) {
        pending.reject(singleError);
      }
    }
  }

  private writeBatch(batch: PendingDecision[]): Promise<LedgerReceipt[]> {
    return this.dataSource.transaction(async (manager) => {
      const receipts = await this.ledger.appendMany(
        manager,
        batch.map(({ record, recordDigest, reviewCase }) => ({
          type: 'decision.created',
          tenant: record.tenant,
          actor: record.actor,
          payload: {
            decisionId: record.id,
            useCase: record.useCase,
            outcome: record.outcome,
            modelVersion: record.modelVersion,
            // Score and requestId are columns beside the record; the ledger covers them too, so
            // an export line stays checkable after its record is purged.
            score: record.score,
            requestId: record.requestId,
            recordDigest,
            ...(reviewCase ? { review: reviewCase.reasons } : {}),
          },
        })),
      );

      const values: string[] = [];
      const parameters: unknown[] = [];
      batch.forEach(({ record, recordJson, recordDigest }, index) => {
        const base = index * DECISION_COLUMNS;
        values.push(`(${Array.from({ length: DECISION_COLUMNS }, (_, column) => `$${base + column + 1}`).join(', ')})`);
        parameters.push(
          record.id,
          record.tenant,
          record.useCase,
          record.requestId,
          record.actor,
          record.outcome,
          record.score,
          record.modelVersion,
          recordJson,
          recordDigest,
          receipts[index].seq,
          receipts[index].hash,
          record.createdAt,
        );
      });
      // A trigger fills the jsonb record column from record_json.
      await manager.query(
        `INSERT INTO decisions.decision_records
           (id, tenant, use_case, request_id, actor, outcome, score, model_version, record_json, record_digest, ledger_seq, ledger_hash, created_at)
         VALUES ${values.join(', ')}`,
        parameters,
      );
      await insertCases(
        manager,
        batch.flatMap(({ reviewCase }, index) => (reviewCase ? [{ seed: reviewCase, ledgerSeq: receipts[index].seq }] : [])),
      );
      return receipts;
    });
  }
}
