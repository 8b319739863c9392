import type { DataSource } from 'typeorm';
import { getLogger } from '../../common/src/index.js';
import type { LedgerEntryInput, PostgresLedger } from '../../audit/src/index.js';

export type CallOutcome = 'ok' | 'blocked' | 'denied' | 'failed' | 'aborted';

/** Source of a call's token counts. 'none' marks a call that never reached an upstream. */
export type UsageSource = 'upstream' | 'local' | 'unknown' | 'none';

/** One row of llm.usage. Token counts and cost are null when unknown, never 0. */
export interface UsageRecord {
  tenant: string;
  useCase: string;
  model: string;
  upstream: string | null;
  actor: string;
  outcome: CallOutcome;
  usageSource: UsageSource;
  promptTokens: number | null;
  completionTokens: number | null;
  /** Decimal string with 12 decimal places, or null. */
  cost: string | null;
  currency: string;
  latencyMs: number;
  createdAt: string;
}

interface PendingCall {
  usage: UsageRecord;
  /** The `llm.call` entry first, then any others of the same call (such as `access.denied`). */
  entries: LedgerEntryInput[];
  resolve(seq: number): void;
  reject(error: unknown): void;
}

/** Most calls written in one transaction, far below PostgreSQL's 65,535 parameters. */
const MAX_BATCH = 200;
const USAGE_COLUMNS = 14;

/**
 * Writes usage rows and their ledger entries with group commit, like the decision writer: calls
 * that finish while a batch is being written go together in the next transaction, so concurrent
 * calls share one ledger lock and one WAL flush.
 */
export class UsageRecorder {
  private readonly log = getLogger('llm-usage');
  private queue: PendingCall[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: PostgresLedger,
  ) {}

  /** Resolves with the seq of the `llm.call` entry once the row and the entries are committed. */
  record(usage: UsageRecord, entries: LedgerEntryInput[]): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ usage, entries, resolve, reject });
      if (!this.draining) {
        this.draining = new Promise<void>((done) => setImmediate(() => void this.drain().finally(done)));
      }
    });
  }

  /** Waits until every queued call is written, for shutdown. */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const seqs = await this.writeBatch(batch);
          batch.forEach((pending, index) => pending.resolve(seqs[index]));
        } catch (error) {
          if (batch.length === 1) {
            batch[0].reject(error);
            continue;
          }
          this.log.warn({ size: batch.length, code: (error as { code?: string }).code }, 'usage batch failed; writing its calls one by one');
          for (const pending of batch) {
            try {
              const [seq] = await this.writeBatch([pending]);
              pending.resolve(seq);
            } catch (singleError) {
              pending.reject(singleError);
            }
          }
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private writeBatch(batch: PendingCall[]): Promise<number[]> {
    return this.dataSource.transaction(async (manager) => {
      const receipts = await this.ledger.appendMany(manager, batch.flatMap((pending) => pending.entries));
      const seqs: number[] = [];
      let offset = 0;
      for (const pending of batch) {
        seqs.push(receipts[offset].seq);
        offset += pending.entries.length;
      }

      const values: string[] = [];
      const parameters: unknown[] = [];
      batch.forEach(({ usage }, index) => {
        const base = index * USAGE_COLUMNS;
        values.push(`(${Array.from({ length: USAGE_COLUMNS }, (_, column) => `$${base + column + 1}`).join(', ')})`);
        parameters.push(
          usage.tenant,
          usage.useCase,
          usage.model,
          usage.upstream,
          usage.actor,
          usage.outcome,
          usage.usageSource,
          usage.promptTokens,
          usage.completionTokens,
          usage.cost,
          usage.currency,
          usage.latencyMs,
          seqs[index],
          usage.createdAt,
        );
      });
      await manager.query(
        `INSERT INTO llm.usage
           (tenant, use_case, model, upstream, actor, outcome, usage_source, prompt_tokens, completion_tokens, cost, currency, latency_ms, ledger_seq, created_at)
         VALUES ${values.join(', ')}`,
        parameters,
      );
      return seqs;
    });
  }
}
