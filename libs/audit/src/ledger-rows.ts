import type { LedgerEntry } from './ledger-hash.js';

/**
 * Columns of audit.ledger_entries as the hash needs them. created_at is formatted in SQL so that
 * the string is exactly the `toISOString` form that was hashed, whatever type parser the driver
 * has installed for timestamptz.
 */
export const LEDGER_ENTRY_COLUMNS = `seq, type, tenant, actor, payload,
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at, prev_hash, hash`;

/** One row selected with LEDGER_ENTRY_COLUMNS. */
export interface LedgerEntryRow {
  /** node-postgres returns bigint as a string unless a type parser is installed. */
  seq: string | number;
  type: string;
  tenant: string;
  actor: string;
  payload: Record<string, unknown>;
  created_at: string;
  prev_hash: string;
  hash: string;
}

/** Converts a selected row to a ledger entry. */
export function toLedgerEntry(row: LedgerEntryRow): LedgerEntry {
  return {
    seq: toSeqNumber(row.seq),
    type: row.type,
    tenant: row.tenant,
    actor: row.actor,
    payload: row.payload,
    createdAt: row.created_at,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** Converts a bigint seq to a number, failing loudly past 2^53 where numbers lose integers. */
export function toSeqNumber(value: string | number): number {
  const seq = Number(value);
  if (!Number.isSafeInteger(seq)) throw new RangeError(`ledger seq ${value} is beyond Number.MAX_SAFE_INTEGER`);
  return seq;
}
