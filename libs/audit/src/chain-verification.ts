/**
 * Recorded full verifications of the ledger chain. When a verification of the whole chain passes,
 * Warden appends an `audit.chain_verified` entry that names the last verified entry. An export
 * then verifies only the entries after it (see export-chain-check.ts).
 *
 * Trust model: the entry is an ordinary ledger entry, and anyone who can append to the ledger can
 * append a false one. So a scheduled full verification, `warden audit verify` or an export with the
 * full check still has to run now and then. Only those catch edits before the newest record.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { getLogger } from '../../common/src/index.js';
import { CHECKPOINT_LEDGER_TENANT } from './checkpoints/checkpoint-keys.js';
import { PostgresLedger, verifyLedger, type LedgerVerification, type VerifyLedgerOptions } from './ledger.js';
import { toSeqNumber } from './ledger-rows.js';
import type { LedgerReceipt } from './ledger.types.js';

/** Ledger entry type of a passed full verification of the chain. */
export const CHAIN_VERIFIED_ENTRY_TYPE = 'audit.chain_verified';

/** Source of a full verification: `warden audit verify`, the server's schedule or an export. */
export type ChainVerificationTrigger = 'cli' | 'schedule' | 'export';

/** Payload of an `audit.chain_verified` entry. */
export interface ChainVerifiedPayload {
  /** Seq and hash of the last entry that the verification checked. */
  throughSeq: number;
  throughHash: string;
  /** Entries verified, from seq 1 through throughSeq. */
  entries: number;
  /** ISO 8601 time at which the verification started. */
  startedAt: string;
  durationMs: number;
  trigger: ChainVerificationTrigger;
}

/** An `audit.chain_verified` entry read back from the ledger. */
export interface RecordedChainVerification extends ChainVerifiedPayload {
  /** Seq of the `audit.chain_verified` entry itself. */
  seq: number;
}

/** A full verification and, when it passed and recording was requested, its ledger entry. */
export interface FullVerificationRun {
  verification: LedgerVerification;
  startedAt: string;
  durationMs: number;
  /** The `audit.chain_verified` entry, or undefined when the chain failed, was empty or recording was off. */
  recorded: LedgerReceipt | undefined;
}

export interface FullVerificationOptions {
  trigger: ChainVerificationTrigger;
  /** Ledger actor of the recorded entry: the operator, or `system` for Warden's own jobs. */
  actor: string;
  /** Skip the `audit.chain_verified` entry, for read-only checks. */
  record?: boolean;
  /** Thread and batch options of verifyLedger. `after` is not allowed: the run covers the whole chain. */
  verify?: Omit<VerifyLedgerOptions, 'after'>;
  ledger?: PostgresLedger;
}

/**
 * Verifies the whole chain and, when it passes, appends an `audit.chain_verified` entry. A failed
 * verification appends nothing: verifyLedger has logged the first bad seq, and the caller reports it.
 */
export async function runFullVerification(dataSource: DataSource, options: FullVerificationOptions): Promise<FullVerificationRun> {
  const started = new Date();
  const startedMs = performance.now();
  const verification = await verifyLedger(dataSource, options.verify);
  const durationMs = Math.round(performance.now() - startedMs);
  const startedAt = started.toISOString();

  // An empty ledger has no entry to name, so nothing is recorded for it.
  if (!verification.ok || options.record === false || verification.headSeq === 0) return { verification, startedAt, durationMs, recorded: undefined };
  const recorded = await recordChainVerification(dataSource, verification, { startedAt, durationMs, trigger: options.trigger, actor: options.actor }, options.ledger);
  return { verification, startedAt, durationMs, recorded };
}

/**
 * Appends the `audit.chain_verified` entry of a passed full verification in a transaction of its
 * own. Raises when the verification did not pass or did not start at seq 1.
 */
export async function recordChainVerification(
  dataSource: DataSource,
  verification: LedgerVerification,
  run: { startedAt: string; durationMs: number; trigger: ChainVerificationTrigger; actor: string },
  ledger: PostgresLedger = new PostgresLedger(),
): Promise<LedgerReceipt> {
  if (!verification.ok) throw new Error('Only a passed verification can be recorded as audit.chain_verified.');
  if (verification.entries !== verification.headSeq) {
    throw new Error(`Only a verification of the whole chain can be recorded, but it verified ${verification.entries} entries through seq ${verification.headSeq}.`);
  }

  const payload: ChainVerifiedPayload = {
    throughSeq: verification.headSeq,
    throughHash: verification.headHash,
    entries: verification.entries,
    startedAt: run.startedAt,
    durationMs: run.durationMs,
    trigger: run.trigger,
  };
  // Entries of tenant "*" concern every tenant, like checkpoints.
  const receipt = await ledger.appendStandalone(dataSource, {
    type: CHAIN_VERIFIED_ENTRY_TYPE,
    tenant: CHECKPOINT_LEDGER_TENANT,
    actor: run.actor,
    payload: { ...payload },
  });
  getLogger('audit-ledger').info({ seq: receipt.seq, throughSeq: payload.throughSeq, trigger: payload.trigger }, 'full ledger verification recorded');
  return receipt;
}

/**
 * Reads the newest `audit.chain_verified` entry of tenant "*" visible to `queryable` (a
 * transaction reads its own snapshot). A backward scan of the partial index
 * ledger_entries_chain_verified finds it, reading past any entries of other tenants.
 * Returns undefined when there is none, or when the newest one has a malformed payload or one that
 * no true record can have, so the caller falls back to a full verification. A true record names an
 * entry before its own seq, and its startedAt is not after its own createdAt. The latter bounds a
 * false record's age by the ledger's clock, so a startedAt in the future cannot keep it fresh.
 */
export async function findLatestChainVerification(queryable: Pick<EntityManager, 'query'>): Promise<RecordedChainVerification | undefined> {
  // The type is a literal so that the planner can match the partial index's predicate. Warden
  // writes these entries with tenant "*" only, so an entry of any other tenant is skipped.
  const rows: { seq: string | number; payload: Record<string, unknown>; created_at: string }[] = await queryable.query(
    `SELECT seq, payload, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at
       FROM audit.ledger_entries WHERE type = '${CHAIN_VERIFIED_ENTRY_TYPE}' AND tenant = $1 ORDER BY seq DESC LIMIT 1`,
    [CHECKPOINT_LEDGER_TENANT],
  );
  if (rows.length === 0) return undefined;

  const seq = toSeqNumber(rows[0].seq);
  const payload = parseChainVerifiedPayload(rows[0].payload);
  if (payload === undefined) {
    getLogger('audit-ledger').warn({ seq }, 'ignoring an audit.chain_verified entry with a malformed payload, so the whole chain is verified');
    return undefined;
  }
  if (payload.throughSeq >= seq) {
    getLogger('audit-ledger').warn(
      { seq, throughSeq: payload.throughSeq },
      'ignoring an audit.chain_verified entry whose throughSeq is not before its own seq, so the whole chain is verified',
    );
    return undefined;
  }
  if (Date.parse(payload.startedAt) > Date.parse(rows[0].created_at)) {
    getLogger('audit-ledger').warn(
      { seq, startedAt: payload.startedAt, createdAt: rows[0].created_at },
      'ignoring an audit.chain_verified entry whose startedAt is after its own createdAt, so the whole chain is verified',
    );
    return undefined;
  }
  return { seq, ...payload };
}

/** Checks the fields of a stored payload, and returns undefined when any is missing or malformed. */
function parseChainVerifiedPayload(payload: Record<string, unknown>): ChainVerifiedPayload | undefined {
  const { throughSeq, throughHash, entries, startedAt, durationMs, trigger } = payload;
  const valid =
    Number.isSafeInteger(throughSeq) &&
    (throughSeq as number) >= 1 &&
    typeof throughHash === 'string' &&
    /^[0-9a-f]{64}$/.test(throughHash) &&
    Number.isSafeInteger(entries) &&
    typeof startedAt === 'string' &&
    !Number.isNaN(Date.parse(startedAt)) &&
    typeof durationMs === 'number' &&
    (trigger === 'cli' || trigger === 'schedule' || trigger === 'export');
  if (!valid) return undefined;
  return {
    throughSeq: throughSeq as number,
    throughHash: throughHash as string,
    entries: entries as number,
    startedAt: startedAt as string,
    durationMs: durationMs as number,
    trigger: trigger as ChainVerificationTrigger,
  };
}
