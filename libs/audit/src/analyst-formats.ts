import { Worker } from 'node:worker_threads';
import { getLogger } from '../../common/src/index.js';
import {
  analystColumnsToParquet,
  analystRowCount,
  appendAnalystRow,
  csvHeaderLine,
  csvLines,
  emptyAnalystColumns,
  LEGACY_PARQUET_LAYOUT,
  PARQUET_LAYOUT,
  type AnalystColumns,
  type AnalystRow,
  type ParquetLayout,
} from './analyst-encoding.js';
import type { DecisionLine } from './bundle-format.js';

export type { AnalystRow } from './analyst-encoding.js';

export const DECISIONS_CSV_FILE = 'decisions.csv';
export const DECISIONS_PARQUET_FILE = 'decisions.parquet';

export function toAnalystRow(line: DecisionLine): AnalystRow {
  const record = line.record as { reviewStatus?: unknown; reasonCodes?: unknown };
  const reasonCodes = Array.isArray(record.reasonCodes)
    ? record.reasonCodes.map((reason) => (typeof reason === 'object' && reason !== null ? String((reason as { code?: unknown }).code) : String(reason)))
    : [];
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
    review_status: typeof record.reviewStatus === 'string' ? record.reviewStatus : null,
    reason_codes: reasonCodes.join(';'),
  };
}

/** Writes RFC 4180 CSV with a header row and CRLF line ends (cell rules in analyst-encoding.ts). */
export function decisionsToCsv(rows: readonly AnalystRow[]): string {
  return csvHeaderLine() + csvLines(toColumns(rows));
}

/** Returns the layout of decisions.parquet in a bundle of the given format version. */
export function parquetLayoutFor(formatVersion: string): ParquetLayout {
  return formatVersion === 'warden.audit-export.v2' || formatVersion === 'warden.audit-export.v3' ? LEGACY_PARQUET_LAYOUT : PARQUET_LAYOUT;
}

/** Writes the rows as one Parquet file with typed columns (timestamps in UTC milliseconds) in the given layout. */
export function decisionsToParquet(rows: readonly AnalystRow[], layout: ParquetLayout): Uint8Array {
  return analystColumnsToParquet(toColumns(rows), layout);
}

function toColumns(rows: readonly AnalystRow[]): AnalystColumns {
  const columns = emptyAnalystColumns();
  for (const row of rows) appendAnalystRow(columns, row);
  return columns;
}

/** The bytes of decisions.csv and decisions.parquet. */
export interface AnalystFiles {
  csv: Uint8Array;
  parquet: Uint8Array;
}

/** Renders both analyst files in this thread. */
export function renderAnalystFiles(rows: readonly AnalystRow[], layout: ParquetLayout): AnalystFiles {
  return renderColumns(toColumns(rows), layout);
}

function renderColumns(columns: AnalystColumns, layout: ParquetLayout): AnalystFiles {
  return { csv: new TextEncoder().encode(csvHeaderLine() + csvLines(columns)), parquet: analystColumnsToParquet(columns, layout) };
}

/** Message from AnalystFilesBuilder to its worker (analyst-files-worker.ts). */
export type AnalystWorkerMessage = { type: 'rows'; columns: AnalystColumns } | { type: 'end' };

/** Rows sent to the worker per message. */
const WORKER_BATCH_ROWS = 1000;

/**
 * Collects analyst rows while an export reads its decisions and renders decisions.csv and
 * decisions.parquet in a worker thread. The worker starts at once and receives the rows in batches,
 * so its start-up, the CSV lines and each full Parquet row group overlap the reads, and the
 * caller's thread is left with copying the batches. The bytes equal renderAnalystFiles's for the
 * same rows. When the worker fails to start or crashes, finish() renders the files in this thread
 * from the rows kept here, unless dispose() was called.
 */
export class AnalystFilesBuilder {
  private readonly columns = emptyAnalystColumns();
  private batch = emptyAnalystColumns();
  private readonly worker: Worker | undefined;
  private readonly result: Promise<AnalystFiles> | undefined;
  private workerFailure: unknown;
  private disposed = false;

  constructor(private readonly layout: ParquetLayout) {
    try {
      const worker = new Worker(new URL('./analyst-files-worker.js', import.meta.url), { workerData: layout });
      this.result = new Promise<AnalystFiles>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new Error(`the analyst file worker exited with code ${code} and no result`)));
      });
      this.result.catch((error: unknown) => (this.workerFailure = error));
      this.worker = worker;
    } catch (error) {
      this.workerFailure = error;
    }
  }

  add(row: AnalystRow): void {
    appendAnalystRow(this.columns, row);
    appendAnalystRow(this.batch, row);
    if (analystRowCount(this.batch) >= WORKER_BATCH_ROWS) this.sendBatch();
  }

  /** Returns both files once every row was added, and ends the worker. */
  async finish(): Promise<AnalystFiles> {
    this.sendBatch();
    let files: AnalystFiles | undefined;
    if (this.worker && this.result && this.workerFailure === undefined) {
      this.worker.postMessage({ type: 'end' } satisfies AnalystWorkerMessage);
      try {
        files = await this.result;
      } catch (error) {
        this.workerFailure = error;
      } finally {
        void this.worker.terminate();
      }
    }
    // A failed export needs no files, and rendering them here would only delay its error.
    if (this.disposed) throw new Error('The analyst files were not rendered because their export failed.');
    if (files) return files;

    getLogger('audit-export').warn({ err: this.workerFailure, rows: analystRowCount(this.columns) }, 'analyst file worker failed, so this thread renders the files');
    return renderColumns(this.columns, this.layout);
  }

  /** Stops the worker of an export that failed. A pending or later finish() then rejects. */
  dispose(): void {
    this.disposed = true;
    void this.worker?.terminate();
  }

  private sendBatch(): void {
    if (analystRowCount(this.batch) === 0) return;
    if (this.worker && this.workerFailure === undefined) {
      this.worker.postMessage({ type: 'rows', columns: this.batch } satisfies AnalystWorkerMessage);
    }
    this.batch = emptyAnalystColumns();
  }
}
