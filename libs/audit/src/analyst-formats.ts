import type { Worker } from 'node:worker_threads';
import { getLogger, IdleWorkerPool, nextReply } from '../../common/src/index.js';
import {
  analystBatches,
  AnalystBatchBuilder,
  AnalystFilesEncoder,
  AnalystParquetWriter,
  ANALYST_LAYOUT,
  ANALYST_LAYOUT_V2,
  ANALYST_LAYOUT_V4,
  csvCell,
  csvHeaderLine,
  decodeAnalystBatch,
  type AnalystBatch,
  type AnalystFiles,
  type AnalystLayout,
  type AnalystRow,
} from './analyst-encoding.js';
import { REVIEW_DECIDED_TYPE, type DecisionLine } from './bundle-format.js';
import type { LedgerEntry } from './ledger-hash.js';

export type { AnalystFiles, AnalystRow } from './analyst-encoding.js';

export const DECISIONS_CSV_FILE = 'decisions.csv';
export const DECISIONS_PARQUET_FILE = 'decisions.parquet';

interface AnalystRecordFields {
  reviewStatus?: unknown;
  reasonCodes?: unknown;
}

/** A reviewer's final decision on a decision, from its review.decided ledger entry. */
export interface FinalReview {
  /** The entry's seq, which must come after the decision's own entry. */
  seq: number;
  tenant: string;
  /** payload.finalOutcome, or null when it is not a string. */
  outcome: string | null;
  /** The entry's createdAt. */
  decidedAt: string;
}

/**
 * The final reviews of a bundle's decisions, read from its review.decided entries. A decision's
 * final review is the one of its review.decided entries with the highest seq. An entry is the
 * decision's when its payload.decisionId is the decision's id, its tenant is the decision's and
 * its seq comes after the decision's own entry, as bundle-format.ts defines. The export and the
 * verifiers read the same entries of ledger.jsonl, so both derive the same cells.
 */
export class FinalReviews {
  private readonly byDecision = new Map<string, FinalReview[]>();

  constructor(entries: Iterable<LedgerEntry>) {
    for (const entry of entries) {
      if (entry.type !== REVIEW_DECIDED_TYPE) continue;
      const payload = entry.payload as { decisionId?: unknown; finalOutcome?: unknown } | null;
      if (typeof payload?.decisionId !== 'string') continue;
      const review: FinalReview = {
        seq: entry.seq,
        tenant: entry.tenant,
        outcome: typeof payload.finalOutcome === 'string' ? payload.finalOutcome : null,
        decidedAt: entry.createdAt,
      };
      const reviews = this.byDecision.get(payload.decisionId);
      if (reviews) reviews.push(review);
      else this.byDecision.set(payload.decisionId, [review]);
    }
  }

  /** Returns the final review of the decision line, or undefined when no person decided it. */
  of(line: DecisionLine): FinalReview | undefined {
    let latest: FinalReview | undefined;
    for (const review of this.byDecision.get(line.id) ?? []) {
      if (review.tenant === line.tenant && review.seq > line.ledgerSeq && (latest === undefined || review.seq > latest.seq)) latest = review;
    }
    return latest;
  }
}

/** Returns the analyst row of a decision line and its final review, if a person decided it. */
export function toAnalystRow(line: DecisionLine, review?: FinalReview): AnalystRow {
  const record = line.record as AnalystRecordFields;
  return {
    id: line.id,
    tenant: line.tenant,
    use_case: line.useCase,
    request_id: line.requestId,
    actor: line.actor,
    outcome: line.outcome,
    score: line.score,
    model_version: line.modelVersion,
    created_at: line.createdAt,
    ledger_seq: line.ledgerSeq,
    ledger_hash: line.ledgerHash,
    record_digest: line.recordDigest,
    review_status: reviewStatusCell(record),
    reason_codes: reasonCodesCell(record),
    review_outcome: review?.outcome ?? null,
    reviewed_at: review?.decidedAt ?? null,
  };
}

/**
 * Returns the record's reviewStatus: the status when the decision was made, so a decision sent to
 * review reads PENDING here also after a reviewer decided. The review_outcome and reviewed_at
 * columns (format v6) carry the decision of the review.
 */
function reviewStatusCell(record: AnalystRecordFields): string | null {
  return typeof record.reviewStatus === 'string' ? record.reviewStatus : null;
}

/** Joins the record's reason codes, given as codes or as objects with a `code`, with ";". */
function reasonCodesCell(record: AnalystRecordFields): string {
  const reasons = record.reasonCodes;
  if (!Array.isArray(reasons)) return '';
  let cell = '';
  for (let i = 0; i < reasons.length; i += 1) {
    const reason: unknown = reasons[i];
    const code = typeof reason === 'object' && reason !== null ? String((reason as { code?: unknown }).code) : String(reason);
    cell = i === 0 ? code : `${cell};${code}`;
  }
  return cell;
}

/** Adds the analyst row of a decision line to a batch, with the cells of toAnalystRow and no row object. */
function addDecision(batch: AnalystBatchBuilder, line: DecisionLine, review: FinalReview | undefined): void {
  const record = line.record as AnalystRecordFields;
  // The order is ANALYST_TEXT_COLUMN_NAMES.
  batch.addText(line.id);
  batch.addText(line.tenant);
  batch.addText(line.useCase);
  batch.addText(line.requestId);
  batch.addText(line.actor);
  batch.addText(line.outcome);
  batch.addText(line.modelVersion);
  batch.addText(line.createdAt);
  batch.addText(line.ledgerHash);
  batch.addText(line.recordDigest);
  batch.addText(reviewStatusCell(record));
  batch.addText(reasonCodesCell(record));
  batch.addText(review?.outcome ?? null);
  batch.addText(review?.decidedAt ?? null);
  batch.endRow(line.score, line.ledgerSeq);
}

/** Writes RFC 4180 CSV of the layout's columns with a header row and CRLF line ends (cell rules in csvCell). */
export function decisionsToCsv(rows: readonly AnalystRow[], layout: AnalystLayout): string {
  const parts = [csvHeaderLine(layout.columns)];
  for (const row of rows) parts.push(layout.columns.map((name) => csvCell(row[name])).join(','), '\r\n');
  return parts.join('');
}

/** Returns the layout of the analyst files in a bundle of the given format version. */
export function analystLayoutFor(formatVersion: string): AnalystLayout {
  switch (formatVersion) {
    case 'warden.audit-export.v2':
    case 'warden.audit-export.v3':
      return ANALYST_LAYOUT_V2;
    case 'warden.audit-export.v4':
    case 'warden.audit-export.v5':
      return ANALYST_LAYOUT_V4;
    default:
      return ANALYST_LAYOUT;
  }
}

/** Writes the rows as one Parquet file with typed columns (timestamps in UTC milliseconds) in the given layout. */
export function decisionsToParquet(rows: readonly AnalystRow[], layout: AnalystLayout): Uint8Array {
  const writer = new AnalystParquetWriter(layout);
  for (const batch of analystBatches(rows)) writer.add(decodeAnalystBatch(batch));
  return writer.finish();
}

/** Renders both analyst files in this thread. */
export function renderAnalystFiles(rows: readonly AnalystRow[], layout: AnalystLayout): AnalystFiles {
  return renderBatches(analystBatches(rows), layout);
}

function renderBatches(batches: readonly AnalystBatch[], layout: AnalystLayout): AnalystFiles {
  const encoder = new AnalystFilesEncoder(layout);
  for (const batch of batches) encoder.add(batch);
  return encoder.finish();
}

/** Message from AnalystFilesBuilder to its worker (analyst-files-worker.ts). */
export type AnalystWorkerMessage = { type: 'start'; layout: AnalystLayout } | { type: 'rows'; batch: AnalystBatch } | { type: 'end' };

/** Rows sent to the worker per message. */
const WORKER_BATCH_ROWS = 1000;

/**
 * Workers that rendered an export's files wait here for the next export of this process. In a
 * process that exported 50,000 decisions several times, a new worker per export cost about 0.9 s of
 * CPU per export (its own thread and V8's compiler threads), and a reused one about half of that.
 */
const workers = new IdleWorkerPool({
  moduleUrl: new URL('./analyst-files-worker.js', import.meta.url),
  name: 'warden analyst files',
  maxIdle: 2,
  idleMs: 60_000,
});

/**
 * Collects the analyst rows of decision lines while an export reads its decisions, and renders
 * decisions.csv and decisions.parquet in a worker thread. The worker starts at once and receives
 * the rows in batches, so its start-up, the CSV lines and each full Parquet row group overlap the
 * reads, and the caller's thread is left with filling and posting the batches. The bytes equal
 * renderAnalystFiles's for the same rows. This thread keeps every batch it posts: when the worker
 * fails to start or crashes, finish() encodes them here, unless dispose() was called.
 */
export class AnalystFilesBuilder {
  private readonly batch = new AnalystBatchBuilder(WORKER_BATCH_ROWS);
  private readonly batches: AnalystBatch[] = [];
  private rows = 0;
  private worker: Worker | undefined;
  private readonly result: Promise<AnalystFiles> | undefined;
  private workerFailure: unknown;
  private disposed = false;

  constructor(private readonly layout: AnalystLayout) {
    try {
      const worker = workers.take();
      // The reply's listeners go once it settles, so a worker back in the pool keeps none of them.
      this.result = nextReply<AnalystFiles>(worker, 'analyst file').reply;
      this.result.catch((error: unknown) => (this.workerFailure = error));
      worker.postMessage({ type: 'start', layout } satisfies AnalystWorkerMessage);
      this.worker = worker;
    } catch (error) {
      this.workerFailure = error;
    }
  }

  /** Adds the analyst row of one decision line and its final review (the cells of toAnalystRow). */
  add(line: DecisionLine, review?: FinalReview): void {
    addDecision(this.batch, line, review);
    if (this.batch.rows === WORKER_BATCH_ROWS) this.sendBatch();
  }

  /** Returns both files once every row was added, and gives the worker back to the pool. */
  async finish(): Promise<AnalystFiles> {
    this.sendBatch();
    let files: AnalystFiles | undefined;
    if (this.worker && this.result && this.workerFailure === undefined) {
      this.worker.postMessage({ type: 'end' } satisfies AnalystWorkerMessage);
      try {
        files = await this.result;
      } catch (error) {
        this.workerFailure = error;
      }
      // Only a worker that replied goes back to the pool, and a failed one is ended. Either way this
      // builder lets go of it, so a later dispose() cannot end a worker that another export took.
      const worker = this.worker;
      this.worker = undefined;
      if (files !== undefined && !this.disposed) {
        workers.release(worker);
      } else {
        void worker.terminate();
      }
    }
    // A failed export needs no files, and rendering them here would only delay its error.
    if (this.disposed) throw new Error('The analyst files were not rendered because their export failed.');
    if (files) return files;

    getLogger('audit-export').warn({ err: this.workerFailure, rows: this.rows }, 'analyst file worker failed, so this thread renders the files');
    return renderBatches(this.batches, this.layout);
  }

  /** Stops the worker of an export that failed. A pending or later finish() then rejects. */
  dispose(): void {
    this.disposed = true;
    // The worker's exit rejects a pending finish().
    void this.worker?.terminate();
  }

  private sendBatch(): void {
    if (this.batch.rows === 0) return;
    const batch = this.batch.take();
    this.batches.push(batch);
    this.rows += batch.rows;
    if (this.worker && this.workerFailure === undefined) {
      this.worker.postMessage({ type: 'rows', batch } satisfies AnalystWorkerMessage);
    }
  }
}
