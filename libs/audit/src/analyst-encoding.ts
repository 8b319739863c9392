/**
 * The CSV and Parquet encoders of the analyst files, over rows held as one array per column. This
 * module imports nothing but the Parquet writer, so the worker thread that renders the files for an
 * export starts without loading the rest of Warden.
 */
import { ByteWriter, ParquetWriter, schemaFromColumnData, type ColumnSource } from 'hyparquet-writer';

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

/** Analyst rows as one array per column, all of the same length. */
export type AnalystColumns = { [K in keyof AnalystRow]: AnalystRow[K][] };

/** The columns in file order, which is also the CSV header. */
export const ANALYST_COLUMN_NAMES: ReadonlyArray<keyof AnalystRow> = [
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

export function emptyAnalystColumns(): AnalystColumns {
  return {
    id: [],
    tenant: [],
    use_case: [],
    request_id: [],
    actor: [],
    outcome: [],
    score: [],
    model_version: [],
    created_at: [],
    ledger_seq: [],
    ledger_hash: [],
    record_digest: [],
    review_status: [],
    reason_codes: [],
  };
}

export function appendAnalystRow(columns: AnalystColumns, row: AnalystRow): void {
  for (const name of ANALYST_COLUMN_NAMES) (columns[name] as unknown[]).push(row[name]);
}

/** Appends every row of `source` to `target`. */
export function appendAnalystColumns(target: AnalystColumns, source: AnalystColumns): void {
  for (const name of ANALYST_COLUMN_NAMES) {
    const into = target[name] as unknown[];
    for (const value of source[name] as unknown[]) into.push(value);
  }
}

export function analystRowCount(columns: AnalystColumns): number {
  return columns.id.length;
}

/** Returns the CSV header line with its CRLF. */
export function csvHeaderLine(): string {
  return `${ANALYST_COLUMN_NAMES.join(',')}\r\n`;
}

/**
 * Writes the rows as RFC 4180 CSV lines, each ending in CRLF, without the header. A text cell that
 * starts with =, +, -, @, tab or carriage return gets a leading apostrophe, so a spreadsheet shows
 * it instead of evaluating it as a formula (request ids and actors come from callers).
 */
export function csvLines(columns: AnalystColumns): string {
  const parts: string[] = [];
  const count = analystRowCount(columns);
  for (let i = 0; i < count; i += 1) {
    let line = csvCell(columns.id[i]);
    for (let c = 1; c < ANALYST_COLUMN_NAMES.length; c += 1) line += `,${csvCell(columns[ANALYST_COLUMN_NAMES[c]][i])}`;
    parts.push(line, '\r\n');
  }
  return parts.join('');
}

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}

/**
 * Layout of decisions.parquet. Bundles before format v4 used the Parquet writer's defaults:
 * row groups of 1,000 rows and then 100,000, Snappy compression and min/max statistics on every
 * column. v4 writes groups of 10,000 rows, so that an export encodes each group while it still
 * reads decisions. v4 pages are uncompressed, because on 50,000 bench rows, which are mostly random
 * hex digests, Snappy saved about 15% of the bytes and took about twice the encoding time. v4 keeps
 * statistics on the number and time columns only, where readers use them to skip row groups.
 */
export interface ParquetLayout {
  /** The i-th row group contains `rowGroups[i]` rows, the last size repeats, and the final group contains the rest. */
  rowGroups: readonly number[];
  codec: 'SNAPPY' | 'UNCOMPRESSED';
  /** Whether the text columns carry min/max statistics. */
  textStatistics: boolean;
}

/** The writer's defaults, used by bundle formats v2 and v3. */
export const LEGACY_PARQUET_LAYOUT: ParquetLayout = { rowGroups: [1000, 100_000], codec: 'SNAPPY', textStatistics: true };
/** The layout of bundle format v4. */
export const PARQUET_LAYOUT: ParquetLayout = { rowGroups: [10_000], codec: 'UNCOMPRESSED', textStatistics: false };

/**
 * Writes analyst rows as one Parquet file with typed columns (timestamps in UTC milliseconds),
 * encoding each row group as soon as its rows have been added. The bytes depend only on the rows
 * and the layout, not on how the rows were split between add() calls.
 */
export class AnalystParquetWriter {
  private readonly output = new ByteWriter();
  private readonly writer: ParquetWriter;
  private pending = emptyAnalystColumns();
  private groupsWritten = 0;

  constructor(private readonly layout: ParquetLayout) {
    if (layout.rowGroups.length === 0 || layout.rowGroups.some((size) => !Number.isSafeInteger(size) || size < 1)) {
      throw new RangeError('Parquet row group sizes must be positive integers');
    }
    this.writer = new ParquetWriter({
      writer: this.output,
      schema: schemaFromColumnData({ columnData: parquetColumns(emptyAnalystColumns(), layout) }),
      codec: layout.codec,
    });
  }

  add(columns: AnalystColumns): void {
    appendAnalystColumns(this.pending, columns);
    for (let size = this.nextGroupSize(); analystRowCount(this.pending) >= size; size = this.nextGroupSize()) {
      const group = emptyAnalystColumns();
      const rest = emptyAnalystColumns();
      for (const name of ANALYST_COLUMN_NAMES) {
        (group[name] as unknown[]) = this.pending[name].slice(0, size);
        (rest[name] as unknown[]) = this.pending[name].slice(size);
      }
      this.writeGroup(group);
      this.pending = rest;
    }
  }

  /** Writes the last, partial row group and the footer, and returns the file. */
  finish(): Uint8Array {
    if (analystRowCount(this.pending) > 0) this.writeGroup(this.pending);
    this.pending = emptyAnalystColumns();
    void this.writer.finish();
    return new Uint8Array(this.output.getBuffer());
  }

  private nextGroupSize(): number {
    const sizes = this.layout.rowGroups;
    return sizes[Math.min(this.groupsWritten, sizes.length - 1)];
  }

  private writeGroup(group: AnalystColumns): void {
    void this.writer.write({ columnData: parquetColumns(group, this.layout), rowGroupSize: analystRowCount(group) });
    this.groupsWritten += 1;
  }
}

function parquetColumns(columns: AnalystColumns, layout: ParquetLayout): ColumnSource[] {
  // The writer's default is statistics on; the legacy layout must not name the option, so its bytes stay the same.
  const textOptions = layout.textStatistics ? {} : { statistics: false };
  const text = (name: keyof AnalystRow): ColumnSource => ({ name, data: columns[name] as (string | null)[], type: 'STRING', ...textOptions });
  return [
    text('id'),
    text('tenant'),
    text('use_case'),
    text('request_id'),
    text('actor'),
    text('outcome'),
    { name: 'score', data: columns.score, type: 'DOUBLE' },
    text('model_version'),
    { name: 'created_at', data: columns.created_at.map((value) => new Date(value)), type: 'TIMESTAMP' },
    { name: 'ledger_seq', data: columns.ledger_seq.map((value) => BigInt(value)), type: 'INT64' },
    text('ledger_hash'),
    text('record_digest'),
    text('review_status'),
    text('reason_codes'),
  ];
}

/** Writes the rows as one Parquet file in the given layout. */
export function analystColumnsToParquet(columns: AnalystColumns, layout: ParquetLayout): Uint8Array {
  const writer = new AnalystParquetWriter(layout);
  writer.add(columns);
  return writer.finish();
}
