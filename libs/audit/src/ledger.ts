import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, FailedPreconditionError, getLogger, runWorkerForResult, sha256Hex } from '../../common/src/index.js';
import { findUnaccountedPurges } from './retention/purge-accounting.js';
import { verifyChainRange, type ChainRange, type ChainRangeResult, type QueryRows } from './chain-range.js';
import { PAYLOAD_TEXT_CHECK, payloadTextCheckFix, readPayloadTextCheck } from './payload-text-check.js';
import { canonicalJsonValue, checkChainLink, entryHashText, GENESIS_PREV_HASH, type ChainProblem } from './ledger-hash.js';
import type { LedgerVerifyWorkerData } from './ledger-verify-worker.js';
import { validateLedgerEntryInput } from './ledger-input.js';
import { toSeqNumber } from './ledger-rows.js';
import type { LedgerAppender, LedgerEntryInput, LedgerReceipt } from './ledger.types.js';

/**
 * Key of the transaction-scoped advisory lock that serializes appends: the ASCII bytes of
 * "WARDLEDG" read as a signed 64-bit integer. Any other user of advisory locks in the same
 * database must pick a different key.
 */
const LEDGER_APPEND_LOCK_KEY = '6287397008076784711';

const DEFAULT_VERIFY_BATCH_SIZE = 1000;
const MAX_VERIFY_BATCH_SIZE = 100_000;

/** Last entry of the chain, or seq 0 with the genesis hash when the ledger is empty. */
export interface LedgerHead {
  seq: number;
  hash: string;
}

export interface PostgresLedgerOptions {
  /** Source of createdAt, which tests pin. Defaults to the system clock. */
  clock?: () => Date;
}

/** Either a transaction's EntityManager or a DataSource: both run `query(sql, parameters)`. */
type Queryable = Pick<EntityManager, 'query'>;

/**
 * The hash-chained ledger in audit.ledger_entries. Appends from any number of connections or
 * processes form one chain, because each append takes the same transaction-scoped advisory lock
 * before it reads the head, and holds it until the caller's transaction ends.
 */
export class PostgresLedger implements LedgerAppender {
  private readonly clock: () => Date;

  constructor(options: PostgresLedgerOptions = {}) {
    this.clock = options.clock ?? (() => new Date());
  }

  /**
   * Appends an entry inside the caller's transaction, so the entry commits or rolls back with the
   * caller's own writes. Other appends wait for that transaction to end, so keep it short.
   */
  async append(manager: EntityManager, entry: LedgerEntryInput): Promise<LedgerReceipt> {
    const [receipt] = await this.appendMany(manager, [entry]);
    return receipt;
  }

  /**
   * Takes the append lock of the open transaction of `manager` early, as an append would take it,
   * and holds it until that transaction ends. A writer that changes data a concurrent appender
   * reads (such as a purge that replaces review text) takes it first, so the two run one after
   * the other.
   */
  async lockAppends(manager: EntityManager): Promise<void> {
    if (!manager.queryRunner?.isTransactionActive) {
      throw new FailedPreconditionError('PostgresLedger.lockAppends needs the EntityManager of an open transaction.');
    }
    await manager.query(`SELECT pg_advisory_xact_lock(${LEDGER_APPEND_LOCK_KEY})`);
  }

  /**
   * Appends several entries, in the given order, under one lock and one INSERT. Callers that
   * collect concurrent requests into one transaction (group commit) pay for the lock, the round
   * trips and the commit's WAL flush once per batch instead of once per entry.
   */
  async appendMany(manager: EntityManager, entries: readonly LedgerEntryInput[]): Promise<LedgerReceipt[]> {
    if (entries.length === 0) return [];
    const payloadJson = entries.map((entry) => validateLedgerEntryInput(entry));
    if (!manager.queryRunner?.isTransactionActive) {
      // Without a transaction the advisory lock would be released before the insert.
      throw new FailedPreconditionError(
        'PostgresLedger.append needs the EntityManager of an open transaction. Use appendStandalone to append on its own.',
      );
    }

    // NOTE: under REPEATABLE READ or SERIALIZABLE the snapshot can predate the lock, so a concurrent
    // append makes this one fail on the seq primary key. The chain never forks, but callers should
    // use READ COMMITTED (the default) or retry.
    await manager.query(`SELECT pg_advisory_xact_lock(${LEDGER_APPEND_LOCK_KEY})`);
    const head = await readHead(manager);

    const createdAt = this.clock().toISOString();
    const receipts: LedgerReceipt[] = [];
    const values: string[] = [];
    const parameters: unknown[] = [];
    let prevHash = head.hash;
    entries.forEach((entry, index) => {
      const seq = head.seq + 1 + index;
      const fields = { seq, type: entry.type, tenant: entry.tenant, actor: entry.actor, payload: entry.payload, createdAt };
      // Equal to computeEntryHash(prevHash, fields), reusing the payload JSON that validation wrote.
      const hash = sha256Hex(prevHash + entryHashText(fields, payloadJson[index]));
      receipts.push({ seq, hash, prevHash, createdAt });
      const p = parameters.length;
      // The canonical text fills both payload columns; a parameter typed text in both places keeps the text exact.
      values.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}::text::jsonb, $${p + 5}::text, $${p + 6}::timestamptz, $${p + 7}, $${p + 8})`);
      parameters.push(seq, entry.type, entry.tenant, entry.actor, payloadJson[index], createdAt, prevHash, hash);
      prevHash = hash;
    });

    const rows: { seq: string; payload: Record<string, unknown> }[] = await manager.query(
      `INSERT INTO audit.ledger_entries (seq, type, tenant, actor, payload, payload_json, created_at, prev_hash, hash)
       VALUES ${values.join(', ')}
       RETURNING seq::text AS seq, payload`,
      parameters,
    );

    // Verification hashes the payload as read back from jsonb. Checking it here turns a value that
    // does not survive the round trip into a failed append instead of a chain that never verifies.
    const stored = new Map(rows.map((row) => [toSeqNumber(row.seq), row.payload]));
    receipts.forEach((receipt, index) => {
      if (storedPayloadJson(stored.get(receipt.seq)) !== payloadJson[index]) {
        throw new BadUserInputError('The ledger entry payload changes when stored as jsonb. Use plain JSON values.', [
          { field: '/payload', message: 'must read back from jsonb unchanged' },
        ]);
      }
    });

    return receipts;
  }

  /** Appends an entry in a transaction of its own. */
  appendStandalone(dataSource: DataSource, entry: LedgerEntryInput): Promise<LedgerReceipt> {
    return dataSource.transaction((manager) => this.append(manager, entry));
  }

  /** Reads the last committed entry's seq and hash. */
  head(dataSource: DataSource): Promise<LedgerHead> {
    return readHead(dataSource);
  }
}

/** Returns the connection URL of a server database, or undefined for embedded PGlite (host and port, one connection). */
/** Returns the connection URL of a server database, or undefined for embedded PGlite (one connection, one process). */
export function serverUrl(dataSource: DataSource): string | undefined {
  const url = (dataSource.options as { url?: unknown }).url;
  return typeof url === 'string' && url !== '' ? url : undefined;
}

/** Verifies a range in a worker thread (ledger-verify-worker.ts) over its own connection. */
export function verifyChainRangeInWorker(connectionString: string, range: ChainRange): Promise<ChainRangeResult> {
  const workerData: LedgerVerifyWorkerData = { connectionString, range };
  return runWorkerForResult(new URL('./ledger-verify-worker.js', import.meta.url), workerData, 'ledger verification');
}

/**
 * Joins the results of two adjacent ranges: the first linked to a known prevHash, the second
 * taking its first prevHash as given. The link between them is checked as verifyChainSegment would
 * check it, so the joined result names the same first bad entry as one pass over both.
 */
function joinRanges(first: ChainRangeResult, second: ChainRangeResult): ChainRangeResult {
  if (!first.ok || second.firstSeq === undefined) return first;
  const link = checkChainLink({ seq: second.firstSeq, prevHash: second.firstPrevHash as string }, first.headSeq, first.headHash as string);
  if (link) return { ...first, ok: false, firstBadSeq: second.firstSeq, ...link };
  return {
    ...second,
    entries: first.entries + second.entries,
    headSeq: second.entries > 0 ? second.headSeq : first.headSeq,
    headHash: second.entries > 0 ? second.headHash : first.headHash,
  };
}

/** Canonical JSON of a payload read back from jsonb, or undefined when it is not plain JSON. */
function storedPayloadJson(payload: unknown): string | undefined {
  try {
    return canonicalJsonValue(payload);
  } catch {
    return undefined;
  }
}

/** Reads the chain head through a manager or data source. */
export async function readHead(queryable: Queryable): Promise<LedgerHead> {
  const rows: { seq: string | number; hash: string }[] = await queryable.query(
    'SELECT seq, hash FROM audit.ledger_entries ORDER BY seq DESC LIMIT 1',
  );
  if (rows.length === 0) return { seq: 0, hash: GENESIS_PREV_HASH };
  return { seq: toSeqNumber(rows[0].seq), hash: rows[0].hash };
}

export interface VerifyLedgerOptions {
  /** Entries read per query (default 1000). */
  batchSize?: number;
  /**
   * Choice of threads. 'auto' (the default) verifies the second half of the chain in a worker
   * thread over a second connection when the database is a server (reached by URL) and the ledger
   * has at least PARALLEL_VERIFY_MIN_ENTRIES entries. 'always' splits on any server database, and
   * 'never' stays on this thread. 'background' verifies the whole chain in the worker, so this
   * thread stays free for other work such as an export. Embedded PGlite accepts one connection, so
   * it always uses this thread.
   */
  parallel?: 'auto' | 'always' | 'never' | 'background';
  /**
   * Seq and hash after which verification starts: the first entry after `seq` must link to `hash`.
   * Callers pass the end of an earlier full verification (an `audit.chain_verified` entry). Without
   * it the whole chain is verified from seq 1.
   */
  after?: { seq: number; hash: string };
}

/** Smallest ledger that 'auto' splits between two threads; below it the worker's start-up dominates. */
export const PARALLEL_VERIFY_MIN_ENTRIES = 20_000;

export interface LedgerVerification {
  ok: boolean;
  /** Entries that verified, counted from seq 1 or from the seq after `after`. */
  entries: number;
  /** Seq and hash of the last entry that verified, or 0 and the genesis hash when none did. */
  headSeq: number;
  headHash: string;
  /** Set when ok is false: the first entry that failed, the problem code and a sentence. */
  firstBadSeq?: number;
  problem?: ChainProblem | 'unaccounted-purge' | 'anchor-mismatch' | 'merkle-mismatch';
  reason?: string;
}

/**
 * Recomputes the whole chain from seq 1 (or the part after `options.after`) in seq order, a batch at a time so memory stays flat, and
 * reports the first entry whose seq, prevHash or hash is wrong. Entries committed while it runs
 * are verified too when they fall after the batches already read. On a server database with a
 * long ledger, a worker thread verifies the second half over its own connection while this thread
 * verifies the first. The halves are joined by checking the link between them, so the result is
 * the same as one pass would give. A worker that cannot start or connect leaves its part to this
 * thread.
 */
export async function verifyLedger(dataSource: DataSource, options: VerifyLedgerOptions = {}): Promise<LedgerVerification> {
  const batchSize = options.batchSize ?? DEFAULT_VERIFY_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_VERIFY_BATCH_SIZE) {
    throw new BadUserInputError('The ledger verification options are invalid.', [
      { field: '/batchSize', message: `must be an integer from 1 to ${MAX_VERIFY_BATCH_SIZE}, got ${String(batchSize)}` },
    ]);
  }
  const parallel = options.parallel ?? 'auto';
  if (!['auto', 'always', 'never', 'background'].includes(parallel)) {
    throw new BadUserInputError('The ledger verification options are invalid.', [
      { field: '/parallel', message: `must be auto, always, never or background, got ${String(parallel)}` },
    ]);
  }

  const after = options.after ?? { seq: 0, hash: GENESIS_PREV_HASH };
  if (!Number.isSafeInteger(after.seq) || after.seq < 0 || !/^[0-9a-f]{64}$/.test(after.hash)) {
    throw new BadUserInputError('The ledger verification options are invalid.', [
      { field: '/after', message: `must name a seq from 0 and a 64-character lowercase hex hash, got seq ${String(after.seq)}` },
    ]);
  }

  const log = getLogger('audit-ledger');
  const query: QueryRows = (sql, parameters) => dataSource.query(sql, parameters);
  const connectionString = serverUrl(dataSource);
  const head = connectionString !== undefined && (parallel === 'auto' || parallel === 'always') ? await readHead(dataSource) : undefined;
  const length = head === undefined ? 0 : head.seq - after.seq;
  const split =
    head !== undefined && length >= 2 && (parallel === 'always' || length >= PARALLEL_VERIFY_MIN_ENTRIES)
      ? after.seq + Math.floor(length / 2)
      : undefined;

  const verifyChain = async (payloadTextsChecked: boolean): Promise<ChainRangeResult> => {
    const wholeChain: ChainRange = { afterSeq: after.seq, prevHash: after.hash, batchSize, payloadTextsChecked };
    if (connectionString !== undefined && parallel === 'background') {
      return verifyChainRangeInWorker(connectionString, wholeChain).catch((error: unknown) => {
        log.warn({ err: error }, 'ledger verification worker failed, so this thread verifies the chain');
        return verifyChainRange(query, wholeChain);
      });
    }
    if (connectionString === undefined || split === undefined) return verifyChainRange(query, wholeChain);
    const secondHalf = verifyChainRangeInWorker(connectionString, { afterSeq: split, prevHash: undefined, batchSize, payloadTextsChecked });
    secondHalf.catch(() => undefined);
    const first = await verifyChainRange(query, { ...wholeChain, lastSeq: split });
    const second = await secondHalf.catch((error: unknown) => {
      log.warn({ err: error }, 'ledger verification worker failed, so this thread verifies the second half too');
      return verifyChainRange(query, { afterSeq: split, prevHash: undefined, batchSize, payloadTextsChecked });
    });
    return joinRanges(first, second);
  };

  // The constraint is read before and after the chain. When it is no longer in force at the end,
  // a text read during the run may differ from its jsonb, so the chain is read again with each
  // text compared.
  const textCheck = await readPayloadTextCheck(dataSource);
  if (!textCheck.inForce) {
    log.warn(
      { constraint: PAYLOAD_TEXT_CHECK, reason: textCheck.reason, fix: payloadTextCheckFix(textCheck.reason) },
      'the payload text constraint of the ledger is not in force, so each payload text is compared with its jsonb',
    );
  }
  let payloadTextsChecked = textCheck.inForce;
  let chain = await verifyChain(payloadTextsChecked);
  if (textCheck.inForce && !(await readPayloadTextCheck(dataSource)).inForce) {
    log.warn(
      { constraint: PAYLOAD_TEXT_CHECK },
      'the payload text constraint of the ledger was dropped or changed during verification, so the chain is read again with each payload text compared with its jsonb',
    );
    payloadTextsChecked = false;
    chain = await verifyChain(false);
  }

  const lastSeq = chain.headSeq;
  const lastHash = chain.headHash ?? after.hash;
  if (!chain.ok) {
    const failure: LedgerVerification = {
      ok: false,
      entries: chain.entries,
      headSeq: lastSeq,
      headHash: lastHash,
      firstBadSeq: chain.firstBadSeq,
      problem: chain.problem,
      reason: chain.reason,
    };
    log.warn({ firstBadSeq: failure.firstBadSeq, problem: failure.problem }, 'ledger verification failed');
    return failure;
  }
  const verified = chain.entries;

  // A tombstone or a purged hold reason replaces data the chain vouches for, so an unexplained one fails verification too.
  const [unaccounted] = await findUnaccountedPurges(dataSource);
  if (unaccounted) {
    log.warn({ firstBadSeq: unaccounted.firstSeq, tenant: unaccounted.tenant, useCase: unaccounted.useCase }, 'ledger verification failed: purge without a matching retention entry');
    return {
      ok: false,
      entries: verified,
      headSeq: lastSeq,
      headHash: lastHash,
      firstBadSeq: unaccounted.firstSeq,
      problem: 'unaccounted-purge',
      reason: unaccounted.reason,
    };
  }

  log.info({ entries: verified, afterSeq: after.seq, headSeq: lastSeq, payloadTexts: payloadTextsChecked ? 'checked on write' : 'compared' }, 'ledger verified');
  return { ok: true, entries: verified, headSeq: lastSeq, headHash: lastHash };
}
