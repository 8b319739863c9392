/**
 * The chain check of an audit export. By default it builds on the newest recorded full
 * verification (an `audit.chain_verified` entry, see chain-verification.ts): it checks that the
 * entry at its throughSeq still has its throughHash, and verifies only the entries after it. Without
 * a recent enough record, or when the caller asks for it, the whole chain is verified and the pass
 * is recorded, so the next export is incremental.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { getLogger } from '../../common/src/index.js';
import { findLatestChainVerification, recordChainVerification, runFullVerification, type RecordedChainVerification } from './chain-verification.js';
import { PARALLEL_VERIFY_MIN_ENTRIES, readHead, verifyLedger, type LedgerVerification } from './ledger.js';
import type { UseCaseSummary } from './summary-report.js';

/** Kind of chain check. 'incremental' verifies the entries after the newest recorded full verification, and 'full' verifies every entry. */
export type ExportChainCheckMode = 'incremental' | 'full';

/** Maximum age of a recorded full verification that an incremental check builds on: 7 days. */
export const DEFAULT_MAX_VERIFICATION_AGE_SECONDS = 7 * 24 * 60 * 60;

/** Entries read per query by the export's chain check. */
const CHAIN_CHECK_BATCH_SIZE = 5000;

export interface ExportChainCheckOptions {
  mode: ExportChainCheckMode;
  maxVerificationAgeSeconds: number;
  /** Ledger actor of the `audit.chain_verified` entry that a passed full check appends. */
  actor: string;
  /**
   * Set when the database has a single connection: the check reads through other connections, so
   * it starts only when this settles (the end of the export's transaction) instead of waiting for
   * a connection and timing out after WARDEN_DB_POOL_WAIT_SECONDS.
   */
  startAfter?: Promise<unknown>;
}

/** Result of an export's chain check. */
export interface ExportChainCheck {
  /**
   * For a full check, the whole chain. For an incremental one, the entries after the recorded
   * verification's throughSeq: `entries` counts only those, and headSeq is the last one.
   */
  verification: LedgerVerification;
  /** The recorded full verification that an incremental check built on, or undefined for a full check. */
  anchor: RecordedChainVerification | undefined;
}

/** A chain check that has started; `result` settles when it ends. */
export interface StartedChainCheck {
  result: Promise<ExportChainCheck>;
  /**
   * Marks the check of a failed export as abandoned. A full check still running then records
   * nothing, so a failed export never appends an `audit.chain_verified` entry after it returned.
   * The verification itself runs to its end.
   */
  abandon(): void;
}

/** Whether the export that started a check has given up on it. */
interface CheckControl {
  abandoned: boolean;
}

/**
 * Chooses the export's chain check and starts it without waiting for it. `manager` is the export's
 * REPEATABLE READ transaction: the recorded verification and the hash of its throughSeq entry are
 * read in that snapshot. The check itself runs on `dataSource`, in a worker thread on a server
 * database (on this thread for an incremental check of fewer than PARALLEL_VERIFY_MIN_ENTRIES
 * entries), so it proceeds alongside the export's reads. On embedded PGlite, which has one
 * connection, it starts when the export's transaction ends (options.startAfter).
 */
export async function startExportChainCheck(
  manager: EntityManager,
  dataSource: DataSource,
  options: ExportChainCheckOptions,
): Promise<StartedChainCheck> {
  const log = getLogger('audit-export');
  const now = new Date();
  const control: CheckControl = { abandoned: false };
  /** Runs `check` once startAfter settles, unless the export failed before that. */
  const whenFree = <T>(check: () => Promise<T>): Promise<T> =>
    (options.startAfter ?? Promise.resolve()).then(() => {
      if (control.abandoned) throw new Error('the export failed before its chain check started');
      return check();
    });

  if (options.mode === 'full') {
    log.info({ mode: 'full', cause: 'requested' }, 'export chain check chosen');
    return started(whenFree(() => runFullCheck(dataSource, options.actor, control)), control);
  }
  const anchor = await findLatestChainVerification(manager);
  if (anchor === undefined) {
    log.info({ mode: 'full', cause: 'no recorded full verification' }, 'export chain check chosen');
    return started(whenFree(() => runFullCheck(dataSource, options.actor, control)), control);
  }
  const ageSeconds = (now.getTime() - Date.parse(anchor.startedAt)) / 1000;
  if (ageSeconds > options.maxVerificationAgeSeconds) {
    log.info(
      { mode: 'full', cause: 'recorded full verification too old', anchorSeq: anchor.seq, ageSeconds: Math.round(ageSeconds), maxVerificationAgeSeconds: options.maxVerificationAgeSeconds },
      'export chain check chosen',
    );
    return started(whenFree(() => runFullCheck(dataSource, options.actor, control)), control);
  }

  const mismatch = await checkAnchorEntry(manager, anchor);
  if (mismatch !== undefined) return started(Promise.resolve({ verification: mismatch, anchor }), control);
  // A worker thread costs about 100 ms of CPU to start, more than a few thousand entries take to
  // verify, so a short range is verified on this thread. The export's snapshot gives the head, and
  // entries appended after it are verified too.
  const entriesAfter = (await readHead(manager)).seq - anchor.throughSeq;
  const parallel = entriesAfter >= PARALLEL_VERIFY_MIN_ENTRIES ? 'background' : 'never';
  log.info({ mode: 'incremental', anchorSeq: anchor.seq, throughSeq: anchor.throughSeq, entriesAfter, parallel }, 'export chain check chosen');
  const range = whenFree(() =>
    verifyLedger(dataSource, {
      parallel,
      batchSize: CHAIN_CHECK_BATCH_SIZE,
      after: { seq: anchor.throughSeq, hash: anchor.throughHash },
    }),
  );
  return started(range.then((verification) => ({ verification, anchor })), control);
}

/**
 * Wraps a running check. The no-op handler keeps a rejection from being reported as unhandled
 * while the export is still reading, and the export receives the error when it awaits `result`.
 */
function started(result: Promise<ExportChainCheck>, control: CheckControl): StartedChainCheck {
  result.catch(() => undefined);
  return { result, abandon: () => (control.abandoned = true) };
}

/**
 * Checks that the entry at the anchor's throughSeq still has the hash that the recorded verification
 * found. Returns a failed verification when it is missing or differs, because then the chain was
 * rewritten after that verification, and undefined when it matches.
 */
async function checkAnchorEntry(manager: EntityManager, anchor: RecordedChainVerification): Promise<LedgerVerification | undefined> {
  const rows: { hash: string }[] = await manager.query('SELECT hash FROM audit.ledger_entries WHERE seq = $1', [anchor.throughSeq]);
  const stored = rows.at(0)?.hash;
  if (stored === anchor.throughHash) return undefined;

  const found = stored === undefined ? 'is missing' : `has hash ${stored}`;
  const verification: LedgerVerification = {
    ok: false,
    entries: 0,
    headSeq: anchor.throughSeq,
    headHash: anchor.throughHash,
    firstBadSeq: anchor.throughSeq,
    problem: 'anchor-mismatch',
    reason:
      `the entry at seq ${anchor.throughSeq} ${found}, but the full verification recorded at seq ${anchor.seq} found hash ` +
      `${anchor.throughHash}, so the chain was rewritten after that verification`,
  };
  getLogger('audit-export').warn({ anchorSeq: anchor.seq, throughSeq: anchor.throughSeq }, 'export chain check failed: the recorded full verification no longer matches the chain');
  return verification;
}

/**
 * Verifies the whole chain and records a pass. A record that cannot be appended is logged and
 * leaves the export's result alone, because the chain did verify.
 */
async function runFullCheck(dataSource: DataSource, actor: string, control: CheckControl): Promise<ExportChainCheck> {
  const run = await runFullVerification(dataSource, {
    trigger: 'export',
    actor,
    record: false,
    verify: { parallel: 'background', batchSize: CHAIN_CHECK_BATCH_SIZE },
  });
  const { verification, startedAt, durationMs } = run;
  if (control.abandoned) {
    getLogger('audit-export').info({ entries: verification.entries, ok: verification.ok }, 'full ledger verification of a failed export ended; it is not recorded');
    return { verification, anchor: undefined };
  }
  if (verification.ok && verification.headSeq > 0) {
    await recordChainVerification(dataSource, verification, { startedAt, durationMs, trigger: 'export', actor }).catch((error: unknown) => {
      getLogger('audit-export').error({ err: error, throughSeq: verification.headSeq }, 'could not record the export\'s full ledger verification; the next export verifies the whole chain again');
    });
  }
  return { verification, anchor: undefined };
}

/** Returns the summary's description of the chain check that an export ran. */
export function summaryChainCheck(check: ExportChainCheck): NonNullable<UseCaseSummary['ledger']['check']> {
  if (check.anchor === undefined) return { kind: 'full' };
  return { kind: 'incremental', throughSeq: check.anchor.throughSeq, verifiedAt: check.anchor.startedAt, anchorSeq: check.anchor.seq };
}
