import { parquetWriteBuffer } from 'hyparquet-writer';
import { getLogger, runWorkerForResult } from '../../common/src/index.js';
import type { DecisionLine } from './bundle-format.js';

export const DECISIONS_CSV_FILE = 'decisions.csv';
export const DECISIONS_PARQUET_FILE = 'decisions.parquet';

/**
 * One flat row per decision for analysts' tools. The rows are derived from decisions.jsonl, which
 * stays the file of record: verification rebuilds these files from it and compares the bytes.
 */
export interface AnalystRow {
  id: string;
  tenant: string;
  use_case: string;
  request_id: string | null;
  actor: string;
  outcome: string;
  score: number;
  model_version: string;
  created_at: string;
  ledger_seq: number;
  ledger_hash: string;
  record_digest: string;
  review_status: string | null;
  /** Reason codes in order of contribution, joined with ";". */
  reason_codes: string;
}

const COLUMNS: ReadonlyArray<keyof AnalystRow> = [
  'id',
  'tenant',
  'use_case',
  'request_id',
  'actor',
  'outcome',
  'score',
  'model_version',
  'created_at',
  'ledger_seq',
  'ledger_hash',
  'record_digest',
  'review_status',
  'reason_codes',
];

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

/**
 * Writes RFC 4180 CSV with a header row and CRLF line ends. A text cell that starts with =, +, -,
 * @, tab or carriage return gets a leading apostrophe, so a spreadsheet shows it instead of
 * evaluating it as a formula (request ids and actors come from callers).
 */
export function decisionsToCsv(rows: readonly AnalystRow[]): string {
  const lines = [COLUMNS.join(',')];
  for (const row of rows) lines.push(COLUMNS.map((column) => csvCell(row[column])).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}

/** Writes the rows as one Parquet file with typed columns (timestamps in UTC milliseconds). */
export function decisionsToParquet(rows: readonly AnalystRow[]): Uint8Array {
  const text = (column: keyof AnalystRow) => ({ name: column, data: rows.map((row) => row[column] as string | null), type: 'STRING' as const });
  const buffer = parquetWriteBuffer({
    columnData: [
      text('id'),
      text('tenant'),
      text('use_case'),
      text('request_id'),
      text('actor'),
      text('outcome'),
      { name: 'score', data: rows.map((row) => row.score), type: 'DOUBLE' },
      text('model_version'),
      { name: 'created_at', data: rows.map((row) => new Date(row.created_at)), type: 'TIMESTAMP' },
      { name: 'ledger_seq', data: rows.map((row) => BigInt(row.ledger_seq)), type: 'INT64' },
      text('ledger_hash'),
      text('record_digest'),
      text('review_status'),
      text('reason_codes'),
    ],
  });
  return new Uint8Array(buffer);
}

/** The bytes of decisions.csv and decisions.parquet. */
export interface AnalystFiles {
  csv: Uint8Array;
  parquet: Uint8Array;
}

/** Renders both analyst files in this thread. */
export function renderAnalystFiles(rows: readonly AnalystRow[]): AnalystFiles {
  return { csv: Buffer.from(decisionsToCsv(rows), 'utf8'), parquet: decisionsToParquet(rows) };
}

/**
 * Renders both analyst files in a worker thread (analyst-files-worker.ts), so that the caller's
 * thread can go on with other work, such as an export's proofs. The bytes are the same as
 * renderAnalystFiles returns. A worker that fails to start or crashes leaves the work to this thread.
 */
export async function buildAnalystFiles(rows: readonly AnalystRow[]): Promise<AnalystFiles> {
  try {
    return await runWorkerForResult<AnalystFiles>(new URL('./analyst-files-worker.js', import.meta.url), rows, 'analyst file');
  } catch (error) {
    getLogger('audit-export').warn({ err: error, rows: rows.length }, 'analyst file worker failed, so this thread renders the files');
    return renderAnalystFiles(rows);
  }
}
