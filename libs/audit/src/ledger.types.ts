import type { EntityManager } from 'typeorm';

/** Entry a caller asks the ledger to record. `payload` must be JSON (see canonicalJson). */
export interface LedgerEntryInput {
  /** Dotted event type such as `decision.created`, `ingestion.batch`, `access.denied`. */
  type: string;
  tenant: string;
  /** Subject of the token that caused the entry, or `system` for Warden's own jobs. */
  actor: string;
  payload: Record<string, unknown>;
}

/** Proof of an append: where the entry sits in the hash chain. */
export interface LedgerReceipt {
  seq: number;
  hash: string;
  prevHash: string;
  /** ISO 8601 time with milliseconds, exactly as hashed. */
  createdAt: string;
}

/**
 * Appends ledger entries inside the caller's transaction, so that a record and its ledger entry
 * commit together or not at all.
 */
export interface LedgerAppender {
  append(manager: EntityManager, entry: LedgerEntryInput): Promise<LedgerReceipt>;
}
