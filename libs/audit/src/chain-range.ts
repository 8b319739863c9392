/**
 * Verification of one seq range of the ledger chain, read in batches through any `query` function.
 * verifyLedger runs it on its own connection, and on a server database also in a worker thread
 * with a second connection (ledger-verify-worker.ts), each over half of the chain.
 */
import { getLogger } from '../../common/src/index.js';
import { verifyChainSegment, type ChainProblem, type VerifiableLedgerEntry } from './ledger-hash.js';
import { LEDGER_CREATED_AT, LEDGER_ENTRY_COLUMNS, STORED_TEXT_MAX_BYTES, toLedgerEntry, toSeqNumber, type LedgerEntryRow } from './ledger-rows.js';

/**
 * One row of a verification read: the jsonb payload, or the stored payload text where PostgreSQL
 * found the two equal (VERIFY_BATCH_SQL). Rows read with LEDGER_ENTRY_COLUMNS have no payload_json.
 */
export interface VerifyEntryRow extends Omit<LedgerEntryRow, 'payload'> {
  payload: Record<string, unknown> | null;
  payload_json?: string | null;
}

/** Runs one SQL statement with positional parameters and returns its rows. */
export type QueryRows = (sql: string, parameters: unknown[]) => Promise<VerifyEntryRow[]>;

/**
 * Reads a batch of entries after seq $1, at most $2 of them, each with its stored payload text where
 * `textRead` holds for it and with its jsonb payload otherwise (also for entries appended before
 * payload_json existed). This process then hashes the text as it is, instead of parsing the jsonb
 * and writing it in canonical form again. On 150,000 decision entries that took about a quarter less
 * CPU in this process. A text over STORED_TEXT_MAX_BYTES is never read.
 * The rest of this query (such as `seq > $1`) and the other queries of the audit library name
 * operators and functions without a schema. They resolve to pg_catalog's because every Warden
 * connection starts with WARDEN_SEARCH_PATH (libs/database/src/search-path.ts), which database-
 * and role-level search_path settings cannot override.
 * NOTE: on a connection opened without that search_path, a shadowing `>` on bigint can still stop
 * the batches early, so verification passes on the entries before an edit.
 */
const verifyBatchSql = (textRead: string): string => `
  SELECT seq, type, tenant, actor, CASE WHEN text_read THEN NULL ELSE payload END AS payload,
         CASE WHEN text_read THEN payload_json END AS payload_json, created_at, prev_hash, hash
    FROM (SELECT seq, type, tenant, actor, payload, payload_json, prev_hash, hash, ${LEDGER_CREATED_AT} AS created_at,
                 coalesce(pg_catalog.octet_length(payload_json) <= ${STORED_TEXT_MAX_BYTES}${textRead}, false) AS text_read
            FROM audit.ledger_entries WHERE seq > $1 ORDER BY seq LIMIT $2) batch
   ORDER BY seq`;

/**
 * The batch where the payload text constraint is in force (payload-text-check.ts): PostgreSQL has
 * checked each text against its jsonb when it was written, so the text is read as it is.
 */
const VERIFY_BATCH_SQL = verifyBatchSql('');

/**
 * The batch where the constraint is not in force. PostgreSQL compares each text with its jsonb
 * payload and returns the text only where they are equal (about 2.3 µs per 224-byte payload). An
 * edit of the jsonb alone then still fails, because its entry is hashed from the jsonb. The
 * comparison names pg_catalog's operator, so an operator placed earlier on the search path cannot
 * make an edited jsonb look equal. It parses the text with jsonb_in itself rather than a cast,
 * because a superuser can create a cast from text to jsonb that maps an edited entry's text to
 * its edited jsonb.
 */
const VERIFY_BATCH_COMPARED_SQL = verifyBatchSql(' AND pg_catalog.jsonb_in(pg_catalog.textout(payload_json)) OPERATOR(pg_catalog.=) payload');

/** The same batch as VERIFY_BATCH_SQL with every payload read from the jsonb. */
const VERIFY_BATCH_JSONB_SQL = `SELECT ${LEDGER_ENTRY_COLUMNS} FROM audit.ledger_entries WHERE seq > $1 ORDER BY seq LIMIT $2`;

/**
 * Tells whether a query failed on a stored text: with a PostgreSQL data exception (SQLSTATE class
 * 22), such as a text that is not valid JSON, or with 54001 stack depth limit exceeded. PostgreSQL 15
 * raises 54001 for JSON nested 20,000 levels deep at the default max_stack_depth of 2 MB.
 */
export function isStoredTextError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('22') || code === '54001');
}

/** Converts a verification row to an entry with its stored payload text, or with its parsed payload. */
function toVerifiableEntry(row: VerifyEntryRow): VerifiableLedgerEntry {
  if (typeof row.payload_json !== 'string') return toLedgerEntry(row as LedgerEntryRow);
  return {
    seq: toSeqNumber(row.seq),
    type: row.type,
    tenant: row.tenant,
    actor: row.actor,
    payloadJson: row.payload_json,
    createdAt: row.created_at,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

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
  /**
   * Whether the payload text constraint is in force (readPayloadTextCheck). When it is not, each
   * stored text is compared with its jsonb payload before it is read.
   */
  payloadTextsChecked: boolean;
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
  const readBatch = async (afterSeq: number): Promise<VerifyEntryRow[]> => {
    const limit = Math.min(range.batchSize, lastSeq - afterSeq);
    if (limit <= 0) return [];
    let rows: VerifyEntryRow[];
    try {
      rows = await query(range.payloadTextsChecked ? VERIFY_BATCH_SQL : VERIFY_BATCH_COMPARED_SQL, [afterSeq, limit]);
    } catch (error) {
      // Where the texts are compared, a payload_json that is not JSON, that jsonb cannot hold (such
      // as \u0000) or that is nested too deeply fails the cast and the whole query (isStoredTextError).
      // Such a text was edited after the append, and the jsonb decides. Any other failure, such as a
      // closed connection, is raised.
      // NOTE: embedded PGlite 0.5.14 raises no error on JSON nested about 7,000 levels or more. The
      // query never returns, so verification of such a text hangs there.
      if (!isStoredTextError(error)) throw error;
      getLogger('audit-ledger').warn({ err: error, afterSeq }, 'ledger batch read failed with stored payload texts, so it is read from the jsonb payloads');
      rows = await query(VERIFY_BATCH_JSONB_SQL, [afterSeq, limit]);
    }
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
    const entries = rows.map(toVerifiableEntry);
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
