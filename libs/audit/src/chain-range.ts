/**
 * Verification of one seq range of the ledger chain, read in batches through any `query` function.
 * verifyLedger runs it on its own connection, and on a server database also in a worker thread
 * with a second connection (ledger-verify-worker.ts), each over half of the chain.
 */
import { verifyChainSegment, type ChainProblem } from './ledger-hash.js';
import { LEDGER_ENTRY_COLUMNS, toLedgerEntry, toSeqNumber, type LedgerEntryRow } from './ledger-rows.js';

/** Runs one SQL statement with positional parameters and returns its rows. */
export type QueryRows = (sql: string, parameters: unknown[]) => Promise<LedgerEntryRow[]>;

export interface ChainRange {
  /** The range starts after this seq. */
  afterSeq: number;
  /**
   * Hash that the first entry's prevHash must equal. When undefined, the first entry's prevHash is
   * taken as given, and the caller compares `firstPrevHash` with the hash of the entry before the range.
   */
  prevHash: string | undefined;
  /** Last seq of the range, inclusive. Without it the range runs to the end of the ledger. */
  lastSeq?: number;
  /** Entries read per query. */
  batchSize: number;
}

export interface ChainRangeResult {
  ok: boolean;
  /** Entries that verified. */
  entries: number;
  /** Seq and prevHash of the first entry read, when the range contains any. */
  firstSeq?: number;
  firstPrevHash?: string;
  /** Seq and hash of the last entry that verified, or afterSeq and prevHash when none did. */
  headSeq: number;
  headHash: string | undefined;
  firstBadSeq?: number;
  problem?: ChainProblem;
  reason?: string;
}

/**
 * Verifies the entries of a range in seq order and stops at the first bad one. The next batch is
 * read while the current one is hashed, so the database server and the hashing overlap. Entries
 * committed while it runs are verified too when the range has no lastSeq.
 */
export async function verifyChainRange(query: QueryRows, range: ChainRange): Promise<ChainRangeResult> {
  // The upper bound is applied by the LIMIT and a filter here, not in SQL: with "seq <= $3" added,
  // PostgreSQL sorted the whole remaining range for every batch of 1,000 and ran 2.5 times slower.
  const lastSeq = range.lastSeq ?? Number.MAX_SAFE_INTEGER;
  const readBatch = async (afterSeq: number): Promise<LedgerEntryRow[]> => {
    const limit = Math.min(range.batchSize, lastSeq - afterSeq);
    if (limit <= 0) return [];
    const rows = await query(`SELECT ${LEDGER_ENTRY_COLUMNS} FROM audit.ledger_entries WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit]);
    // A gap in the seqs lets the batch reach past lastSeq, into the next range.
    return rows.length > 0 && toSeqNumber(rows[rows.length - 1].seq) > lastSeq ? rows.filter((row) => toSeqNumber(row.seq) <= lastSeq) : rows;
  };

  let verified = 0;
  let headSeq = range.afterSeq;
  let lastHash = range.prevHash;
  let first: { seq: number; prevHash: string } | undefined;
  let nextBatch = readBatch(headSeq);
  for (;;) {
    const rows = await nextBatch;
    if (rows.length === 0) break;

    // Read ahead from the last row of this batch. The no-op handler keeps a failed read-ahead from
    // becoming an unhandled rejection when this batch fails and the loop returns without awaiting it.
    const entries = rows.map(toLedgerEntry);
    nextBatch = readBatch(entries[entries.length - 1].seq);
    nextBatch.catch(() => undefined);

    first ??= { seq: entries[0].seq, prevHash: entries[0].prevHash };
    // A range that takes its first entry's prevHash as given skips that entry's seq and link checks,
    // because only the caller knows the entry before the range.
    const result =
      lastHash === undefined
        ? verifyChainSegment(entries, entries[0].prevHash)
        : verifyChainSegment(entries, lastHash, { expectedFirstSeq: headSeq + 1 });
    if (!result.ok) {
      const lastGood = result.entries > 0 ? entries[result.entries - 1] : undefined;
      return {
        ok: false,
        entries: verified + result.entries,
        firstSeq: first.seq,
        firstPrevHash: first.prevHash,
        headSeq: lastGood?.seq ?? headSeq,
        headHash: lastGood?.hash ?? lastHash,
        firstBadSeq: result.firstBadSeq,
        problem: result.problem,
        reason: result.reason,
      };
    }
    verified += result.entries;
    headSeq = result.lastSeq ?? headSeq;
    lastHash = result.lastHash;
  }
  return { ok: true, entries: verified, firstSeq: first?.seq, firstPrevHash: first?.prevHash, headSeq, headHash: lastHash };
}
