import type { LedgerEntry } from './ledger-hash.js';

/**
 * created_at formatted in SQL, so that the string is exactly the `toISOString` form that was
 * hashed, whatever type parser the driver has installed for timestamptz. The function is named
 * with its schema, so a to_char placed earlier on the search path cannot change it.
 */
export const LEDGER_CREATED_AT = `pg_catalog.to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Columns of audit.ledger_entries as the hash needs them. */
export const LEDGER_ENTRY_COLUMNS = `seq, type, tenant, actor, payload, ${LEDGER_CREATED_AT} AS created_at, prev_hash, hash`;

/**
 * Largest stored text (payload_json, record_json) that is read as text, in bytes. A larger one is
 * read from its jsonb column instead. Warden's payloads and records are a few kilobytes, and a
 * text past 512 MiB, such as one padded with whitespace, would stop node-postgres with an
 * exception that no query can catch.
 */
export const STORED_TEXT_MAX_BYTES = 1_048_576;

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
