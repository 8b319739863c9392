/**
 * The CSV and Parquet encoders of the analyst files, over rows sent in batches. This module imports
 * nothing but the Parquet writer, so the worker thread that renders the files for an export starts
 * without loading the rest of Warden.
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
  /** The record's reviewStatus: the status when the decision was made, such as PENDING. */
  review_status: string | null;
  /** Reason codes in order of contribution, joined with ";". */
  reason_codes: string;
  /** The reviewer's final outcome (APPROVE or DECLINE) from the decision's review.decided entry, or null while no person decided. */
  review_outcome: string | null;
  /** The time of that review.decided entry (ISO 8601 UTC), or null. */
  reviewed_at: string | null;
}

/** The columns of bundle format v6 in file order, which is also the CSV header. */
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
  'review_outcome',
  'reviewed_at',
];

/** The columns of bundle formats v2 to v5: those of v6 without the review result. */
export const ANALYST_COLUMN_NAMES_V5: ReadonlyArray<keyof AnalystRow> = ANALYST_COLUMN_NAMES.filter((name) => name !== 'review_outcome' && name !== 'reviewed_at');

type NumberColumnName = 'score' | 'ledger_seq';
type TextColumnName = Exclude<keyof AnalystRow, NumberColumnName>;

/**
 * Every column but score and ledger_seq, in v6 file order. A batch carries all of them, and a
 * layout with fewer columns leaves the others out of its files.
 */
export const ANALYST_TEXT_COLUMN_NAMES = ANALYST_COLUMN_NAMES.filter((name): name is TextColumnName => name !== 'score' && name !== 'ledger_seq');
const TEXT_COLUMN_COUNT = ANALYST_TEXT_COLUMN_NAMES.length;
/** The text columns that hold times, which Parquet stores as timestamps. */
const TIME_COLUMNS: ReadonlySet<keyof AnalystRow> = new Set(['created_at', 'reviewed_at']);

/** The bytes of decisions.csv and decisions.parquet. */
export interface AnalystFiles {
  csv: Uint8Array;
  parquet: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Batches

/**
 * Analyst rows in the form that AnalystFilesBuilder posts to its worker. All text cells travel as
 * one string, which a message copies in one piece, where 12 arrays of short strings cost a
 * serialization step per cell.
 */
export interface AnalystBatch {
  rows: number;
  /** The text cells of every row, row after row and in ANALYST_TEXT_COLUMN_NAMES order, with no separator. */
  text: string;
  /** The length of each cell of `text` in UTF-16 code units, or -1 for null. */
  textLengths: Int32Array;
  scores: Float64Array;
  ledgerSeqs: Float64Array;
}

/** Collects analyst rows into an AnalystBatch of at most `capacity` rows. */
export class AnalystBatchBuilder {
  // The cells are joined once per batch. Appending them to one string instead built a rope of
  // 12,000 pieces that the message serializer had to flatten: posting a 220,000-character batch then
  // took 1.5 ms of this thread against 0.6 ms for join and post (Node.js 24).
  private cells: string[] = [];
  private readonly textLengths: Int32Array;
  private readonly scores: Float64Array;
  private readonly ledgerSeqs: Float64Array;
  private cellCount = 0;
  private rowCount = 0;

  constructor(private readonly capacity: number) {
    this.textLengths = new Int32Array(capacity * TEXT_COLUMN_COUNT);
    this.scores = new Float64Array(capacity);
    this.ledgerSeqs = new Float64Array(capacity);
  }

  get rows(): number {
    return this.rowCount;
  }

  /**
   * Adds the next text cell of the current row, in ANALYST_TEXT_COLUMN_NAMES order. Any other
   * value than a string or null is rejected, as the Parquet writer rejected it in a text column.
   */
  addText(value: string | null): void {
    if (typeof value === 'string') {
      this.cells.push(value);
      this.textLengths[this.cellCount] = value.length;
    } else if (value === null) {
      this.textLengths[this.cellCount] = -1;
    } else {
      throw new TypeError(`An analyst text cell must be a string or null, but ${ANALYST_TEXT_COLUMN_NAMES[this.cellCount % TEXT_COLUMN_COUNT]} of row ${this.rowCount} is ${typeof value}.`);
    }
    this.cellCount += 1;
  }

  /** Ends the current row, whose text cells were all added. */
  endRow(score: number, ledgerSeq: number): void {
    // A typed array drops writes past its end and converts what it stores to a number, so an
    // overfull batch or a value of another type must fail here.
    if (this.rowCount === this.capacity) throw new RangeError(`An analyst batch takes at most ${this.capacity} rows, so take() it before adding more.`);
    if (typeof score !== 'number' || typeof ledgerSeq !== 'number') {
      throw new TypeError(`An analyst row needs a number score and ledger seq, but row ${this.rowCount} has a ${typeof score} and a ${typeof ledgerSeq}.`);
    }
    if (this.cellCount !== (this.rowCount + 1) * TEXT_COLUMN_COUNT) {
      throw new Error(`An analyst row needs ${TEXT_COLUMN_COUNT} text cells, but row ${this.rowCount} has ${this.cellCount - this.rowCount * TEXT_COLUMN_COUNT}.`);
    }
    this.scores[this.rowCount] = score;
    this.ledgerSeqs[this.rowCount] = ledgerSeq;
    this.rowCount += 1;
  }

  /** Returns the rows added since the last call, and empties the builder. */
  take(): AnalystBatch {
    const batch: AnalystBatch = {
      rows: this.rowCount,
      text: this.cells.join(''),
      textLengths: this.textLengths.slice(0, this.cellCount),
      scores: this.scores.slice(0, this.rowCount),
      ledgerSeqs: this.ledgerSeqs.slice(0, this.rowCount),
    };
    this.cells = [];
    this.cellCount = 0;
    this.rowCount = 0;
    return batch;
  }
}

export function addAnalystRow(batch: AnalystBatchBuilder, row: AnalystRow): void {
  for (const name of ANALYST_TEXT_COLUMN_NAMES) batch.addText(row[name]);
  batch.endRow(row.score, row.ledger_seq);
}

/** Splits rows into batches. */
export function analystBatches(rows: readonly AnalystRow[], batchRows = 1000): AnalystBatch[] {
  const batches: AnalystBatch[] = [];
  const builder = new AnalystBatchBuilder(batchRows);
  for (const row of rows) {
    addAnalystRow(builder, row);
    if (builder.rows === batchRows) batches.push(builder.take());
  }
  if (builder.rows > 0) batches.push(builder.take());
  return batches;
}

/** A batch as the encoders read it: with the offset of each text cell, and UTF-8 bytes when the text is ASCII. */
export interface DecodedAnalystBatch extends AnalystBatch {
  textStarts: Int32Array;
  /**
   * The UTF-8 bytes of `text` when every character is ASCII, so that a cell's bytes sit at the
   * cell's string offsets. Undefined otherwise.
   */
  asciiBytes: Uint8Array | undefined;
}

export function decodeAnalystBatch(batch: AnalystBatch): DecodedAnalystBatch {
  if (batch.textLengths.length !== batch.rows * TEXT_COLUMN_COUNT || batch.scores.length !== batch.rows || batch.ledgerSeqs.length !== batch.rows) {
    throw new Error(`An analyst batch of ${batch.rows} rows has ${batch.textLengths.length} text cells, ${batch.scores.length} scores and ${batch.ledgerSeqs.length} ledger seqs.`);
  }
  const textStarts = new Int32Array(batch.textLengths.length);
  let offset = 0;
  for (let cell = 0; cell < batch.textLengths.length; cell += 1) {
    textStarts[cell] = offset;
    if (batch.textLengths[cell] > 0) offset += batch.textLengths[cell];
  }
  if (offset !== batch.text.length) throw new Error(`An analyst batch's cell lengths add up to ${offset}, but its text has ${batch.text.length} characters.`);

  // A non-ASCII character takes two or more UTF-8 bytes, so equal lengths mean ASCII only.
  const utf8 = Buffer.from(batch.text, 'utf8');
  const asciiBytes = utf8.length === batch.text.length ? new Uint8Array(utf8.buffer, utf8.byteOffset, utf8.length) : undefined;
  return { ...batch, textStarts, asciiBytes };
}

function textCell(batch: DecodedAnalystBatch, row: number, column: number): string | null {
  const cell = row * TEXT_COLUMN_COUNT + column;
  const length = batch.textLengths[cell];
  return length < 0 ? null : batch.text.slice(batch.textStarts[cell], batch.textStarts[cell] + length);
}

// ---------------------------------------------------------------------------------------------
// CSV

/** Returns the CSV header line of the columns with its CRLF. */
export function csvHeaderLine(columns: ReadonlyArray<keyof AnalystRow>): string {
  return `${columns.join(',')}\r\n`;
}

/**
 * Writes one CSV cell by RFC 4180. A text cell that starts with =, +, -, @, tab or carriage return
 * gets a leading apostrophe, so a spreadsheet shows it instead of evaluating it as a formula
 * (request ids and actors come from callers). AnalystCsvWriter writes the same bytes for ASCII text.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;
const APOSTROPHE = 0x27;

/** Returns whether csvCell guards a cell that starts with this character code. */
function startsFormula(code: number): boolean {
  return code === 0x3d || code === 0x2b || code === 0x2d || code === 0x40 || code === 0x09 || code === CR;
}

/** The source of a CSV cell: the index of a text column, SCORE_CELL or LEDGER_SEQ_CELL. */
const SCORE_CELL = -1;
const LEDGER_SEQ_CELL = -2;

function csvCellSource(name: keyof AnalystRow): number {
  if (name === 'score') return SCORE_CELL;
  if (name === 'ledger_seq') return LEDGER_SEQ_CELL;
  return ANALYST_TEXT_COLUMN_NAMES.indexOf(name);
}
/** Room for a number written by String(), which takes at most 25 characters, such as "-0.0000012345678901234567". */
const MAX_NUMBER_CHARS = 32;

/** Cells of at least this many bytes are copied with copyWithin, which costs more per call than a loop but less per byte. */
const BULK_COPY_BYTES = 16;

/**
 * Writes decisions.csv (CRLF line ends, header first) as bytes, batch by batch. An ASCII batch is
 * written from its UTF-8 bytes, and when no cell contains a quote, comma, CR or LF, whole cells are
 * copied without looking at each byte. Other batches go through csvCell and Buffer.from.
 */
export class AnalystCsvWriter {
  private readonly chunks: Uint8Array[];
  /** The source of each cell of a line, in file order (csvCellSource). */
  private readonly cells: Int32Array;
  /** The batch's bytes, followed by its CSV lines, in one array, so that copyWithin can copy cells. */
  private work = new Uint8Array(0);

  constructor(columns: ReadonlyArray<keyof AnalystRow>) {
    this.chunks = [Buffer.from(csvHeaderLine(columns), 'utf8')];
    this.cells = Int32Array.from(columns, csvCellSource);
  }

  add(batch: DecodedAnalystBatch): void {
    if (batch.rows === 0) return;
    this.chunks.push(batch.asciiBytes ? this.asciiLines(batch, batch.asciiBytes) : Buffer.from(textLines(batch, this.cells), 'utf8'));
  }

  /** Returns the file in a buffer of its own, so it can be moved to another thread. */
  finish(): Uint8Array {
    const file = new Uint8Array(this.chunks.reduce((sum, chunk) => sum + chunk.length, 0));
    let offset = 0;
    for (const chunk of this.chunks) {
      file.set(chunk, offset);
      offset += chunk.length;
    }
    return file;
  }

  private asciiLines(batch: DecodedAnalystBatch, bytes: Uint8Array): Uint8Array {
    // A text cell takes at most twice its bytes (every one a quote) plus two quotes and an
    // apostrophe. A line adds a comma after each cell but the last, and CRLF.
    const maxLength = 2 * bytes.length + batch.rows * (3 * TEXT_COLUMN_COUNT + 2 * MAX_NUMBER_CHARS + this.cells.length + 1);
    if (this.work.length < bytes.length + maxLength) this.work = new Uint8Array(bytes.length + maxLength);
    const work = this.work;
    work.set(bytes, 0);
    const quoting = /[",\r\n]/.test(batch.text);
    let at = bytes.length;
    for (let row = 0; row < batch.rows; row += 1) {
      at = writeAsciiLine(work, at, quoting, this.cells, batch.textStarts, batch.textLengths, row * TEXT_COLUMN_COUNT, batch.scores[row], batch.ledgerSeqs[row]);
    }
    // A typed array drops writes past its end, so a wrong bound must fail instead of cutting lines.
    if (at > work.length) throw new Error(`The CSV lines of an analyst batch took ${at - bytes.length} bytes, more than the ${maxLength} reserved.`);
    return work.slice(bytes.length, at);
  }
}

/**
 * Writes one CSV line, with the cells that `cells` names from the text cells at `firstCell` on, and
 * returns the next write position. `work` contains the cells' bytes at their text offsets. `quoting`
 * is false when no cell of the batch needs quotes.
 */
function writeAsciiLine(
  work: Uint8Array,
  at: number,
  quoting: boolean,
  cells: Int32Array,
  textStarts: Int32Array,
  textLengths: Int32Array,
  firstCell: number,
  score: number,
  ledgerSeq: number,
): number {
  for (let cell = 0; cell < cells.length; cell += 1) {
    if (cell > 0) work[at++] = COMMA;
    const column = cells[cell];
    if (column === SCORE_CELL) {
      at = writeAscii(work, at, String(score));
    } else if (column === LEDGER_SEQ_CELL) {
      at = writeAscii(work, at, String(ledgerSeq));
    } else {
      const length = textLengths[firstCell + column];
      if (length > 0) {
        const start = textStarts[firstCell + column];
        at = quoting ? writeAsciiCell(work, at, start, start + length) : copyAsciiCell(work, at, start, start + length);
      }
    }
  }
  work[at++] = CR;
  work[at++] = LF;
  return at;
}

function writeAscii(out: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i += 1) out[at++] = text.charCodeAt(i);
  return at;
}

/** Writes work[start, end), which contains no quote, comma, CR or LF, as csvCell would. */
function copyAsciiCell(work: Uint8Array, at: number, start: number, end: number): number {
  if (startsFormula(work[start])) work[at++] = APOSTROPHE;
  if (end - start >= BULK_COPY_BYTES) {
    work.copyWithin(at, start, end);
    return at + end - start;
  }
  for (let i = start; i < end; i += 1) work[at++] = work[i];
  return at;
}

/** Writes work[start, end) as csvCell would, and returns the next write position. */
function writeAsciiCell(work: Uint8Array, at: number, start: number, end: number): number {
  const guarded = startsFormula(work[start]);
  const cellStart = at;
  if (guarded) work[at++] = APOSTROPHE;
  for (let i = start; i < end; i += 1) {
    const code = work[i];
    if (code === QUOTE || code === COMMA || code === CR || code === LF) return writeQuotedAsciiCell(work, cellStart, start, end, guarded);
    work[at++] = code;
  }
  return at;
}

function writeQuotedAsciiCell(work: Uint8Array, at: number, start: number, end: number, guarded: boolean): number {
  work[at++] = QUOTE;
  if (guarded) work[at++] = APOSTROPHE;
  for (let i = start; i < end; i += 1) {
    if (work[i] === QUOTE) work[at++] = QUOTE;
    work[at++] = work[i];
  }
  work[at++] = QUOTE;
  return at;
}

function textLines(batch: DecodedAnalystBatch, cellSources: Int32Array): string {
  const parts: string[] = [];
  for (let row = 0; row < batch.rows; row += 1) {
    const cells: string[] = [];
    for (const column of cellSources) {
      if (column === SCORE_CELL) cells.push(csvCell(batch.scores[row]));
      else if (column === LEDGER_SEQ_CELL) cells.push(csvCell(batch.ledgerSeqs[row]));
      else cells.push(csvCell(textCell(batch, row, column)));
    }
    parts.push(cells.join(','), '\r\n');
  }
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// Parquet

/**
 * Layout of decisions.csv and decisions.parquet: the columns of both files, and how the Parquet
 * file is written. Bundles before format v4 used the Parquet writer's defaults: row groups of
 * 1,000 rows and then 100,000, Snappy compression and min/max statistics on every column. v4 writes
 * groups of 10,000 rows, so that an export encodes each group while it still reads decisions. v4
 * pages are uncompressed, because on 50,000 bench rows, which are mostly random hex digests, Snappy
 * saved about 15% of the bytes and took about twice the encoding time. v4 keeps statistics on the
 * number and time columns only, where readers use them to skip row groups. v6 adds the columns
 * review_outcome and reviewed_at at the end of both files.
 */
export interface AnalystLayout {
  /** The columns in file order: ANALYST_COLUMN_NAMES from format v6, ANALYST_COLUMN_NAMES_V5 before. */
  columns: ReadonlyArray<keyof AnalystRow>;
  /** The i-th row group contains `rowGroups[i]` rows, the last size repeats, and the final group contains the rest. */
  rowGroups: readonly number[];
  codec: 'SNAPPY' | 'UNCOMPRESSED';
  /** Whether the text columns carry min/max statistics. */
  textStatistics: boolean;
}

/** The layout of bundle formats v2 and v3, with the Parquet writer's defaults. */
export const ANALYST_LAYOUT_V2: AnalystLayout = { columns: ANALYST_COLUMN_NAMES_V5, rowGroups: [1000, 100_000], codec: 'SNAPPY', textStatistics: true };
/** The layout of bundle formats v4 and v5. */
export const ANALYST_LAYOUT_V4: AnalystLayout = { columns: ANALYST_COLUMN_NAMES_V5, rowGroups: [10_000], codec: 'UNCOMPRESSED', textStatistics: false };
/** The layout of bundle format v6, which exportBundle writes. */
export const ANALYST_LAYOUT: AnalystLayout = { ...ANALYST_LAYOUT_V4, columns: ANALYST_COLUMN_NAMES };

/**
 * Writes analyst rows as one Parquet file with typed columns (timestamps in UTC milliseconds),
 * encoding each row group as soon as its rows have been added. The bytes depend only on the rows
 * and the layout, not on how the rows were split between add() calls.
 */
export class AnalystParquetWriter {
  private readonly output = new ByteWriter();
  private readonly writer: ParquetWriter;
  private pending: DecodedAnalystBatch[] = [];
  /** Rows of pending[0] that earlier row groups took. */
  private pendingStart = 0;
  private pendingRows = 0;
  private groupsWritten = 0;
  private readonly repeatedTexts = ANALYST_TEXT_COLUMN_NAMES.map(() => new RepeatedTexts());

  constructor(private readonly layout: AnalystLayout) {
    if (layout.rowGroups.length === 0 || layout.rowGroups.some((size) => !Number.isSafeInteger(size) || size < 1)) {
      throw new RangeError('Parquet row group sizes must be positive integers');
    }
    const columnData = layout.columns.map((name): ColumnSource => ({ name, data: [], type: PARQUET_TYPES[name] }));
    this.writer = new ParquetWriter({ writer: this.output, schema: schemaFromColumnData({ columnData }), codec: layout.codec });
  }

  add(batch: DecodedAnalystBatch): void {
    if (batch.rows === 0) return;
    this.pending.push(batch);
    this.pendingRows += batch.rows;
    for (let size = this.nextGroupSize(); this.pendingRows >= size; size = this.nextGroupSize()) this.writeGroup(this.takeRows(size));
  }

  /** Writes the last, partial row group and the footer, and returns the file. */
  finish(): Uint8Array {
    if (this.pendingRows > 0) this.writeGroup(this.takeRows(this.pendingRows));
    void this.writer.finish();
    return new Uint8Array(this.output.getBuffer());
  }

  private nextGroupSize(): number {
    const sizes = this.layout.rowGroups;
    return sizes[Math.min(this.groupsWritten, sizes.length - 1)];
  }

  private takeRows(count: number): RowGroupCells {
    const segments: BatchSegment[] = [];
    for (let needed = count; needed > 0; ) {
      const batch = this.pending[0];
      const end = Math.min(batch.rows, this.pendingStart + needed);
      segments.push({ batch, start: this.pendingStart, end });
      needed -= end - this.pendingStart;
      if (end === batch.rows) {
        this.pending.shift();
        this.pendingStart = 0;
      } else {
        this.pendingStart = end;
      }
    }
    this.pendingRows -= count;
    return new RowGroupCells(segments, count);
  }

  private writeGroup(cells: RowGroupCells): void {
    // The writer's default is statistics on; the legacy layout must not name the option, so its bytes stay the same.
    const textOptions = this.layout.textStatistics ? {} : { statistics: false };
    const columnData = this.layout.columns.map((name): ColumnSource => {
      if (name === 'score') return { name, data: cells.scores(), type: 'DOUBLE' };
      if (name === 'ledger_seq') return { name, data: cells.ledgerSeqs(), type: 'INT64' };
      const column = ANALYST_TEXT_COLUMN_NAMES.indexOf(name);
      // The encoders before this one wrote created_at null as new Date(null), the epoch.
      if (TIME_COLUMNS.has(name)) return { name, data: cells.timeMillis(column, name === 'created_at' ? 0n : null), type: 'TIMESTAMP' };
      if (cells.ascii && cells.dictionarySamplingRejects(column, this.repeatedTexts[column])) {
        return { name, data: cells.textBytes(column), type: 'STRING', encoding: 'PLAIN', ...textOptions };
      }
      return { name, data: cells.texts(column, this.repeatedTexts[column]), type: 'STRING', ...textOptions };
    });
    void this.writer.write({ columnData, rowGroupSize: cells.rows });
    this.groupsWritten += 1;
  }
}

const PARQUET_TYPES: Record<keyof AnalystRow, ColumnSource['type']> = {
  id: 'STRING',
  tenant: 'STRING',
  use_case: 'STRING',
  request_id: 'STRING',
  actor: 'STRING',
  outcome: 'STRING',
  score: 'DOUBLE',
  model_version: 'STRING',
  created_at: 'TIMESTAMP',
  ledger_seq: 'INT64',
  ledger_hash: 'STRING',
  record_digest: 'STRING',
  review_status: 'STRING',
  reason_codes: 'STRING',
  review_outcome: 'STRING',
  reviewed_at: 'TIMESTAMP',
};

/**
 * Returns one string object for each repeat of a column's first distinct values. A column with few
 * distinct values, such as tenant or outcome, then costs few strings, and the Parquet writer's
 * dictionary hashes each distinct value once. After many distinct values it stops comparing.
 */
class RepeatedTexts {
  private readonly values: string[] = [];
  private misses = 0;

  read(batch: DecodedAnalystBatch, cell: number): string | null {
    const length = batch.textLengths[cell];
    if (length < 0) return null;
    const start = batch.textStarts[cell];
    if (this.misses < REPEATED_TEXT_MISSES) {
      for (const value of this.values) {
        if (value.length === length && batch.text.startsWith(value, start)) return value;
      }
      this.misses += 1;
    }
    const value = batch.text.slice(start, start + length);
    if (this.values.length < REPEATED_TEXT_VALUES) this.values.push(value);
    return value;
  }
}

/** Distinct values that RepeatedTexts keeps per column. */
const REPEATED_TEXT_VALUES = 16;
/** Values not found among the kept ones after which RepeatedTexts stops looking. */
const REPEATED_TEXT_MISSES = 64;

/**
 * Returns the time in text[start, start + length) in milliseconds since the epoch, as
 * new Date(text).getTime() does. A time in the format that exports write,
 * "YYYY-MM-DDTHH:mm:ss.sssZ", is read digit by digit and added to the start of its day, which
 * Date.parse reads once per run of equal dates. By the ECMAScript date time string format both give
 * MakeDate(MakeDay(year, month, day), MakeTime(hour, minute, second, ms)). Other text goes to Date.
 */
export function isoTimeMillis(text: string, start: number, length: number, days = new UtcDays()): number {
  if (length === 24 && hasIsoTimeSeparators(text, start)) {
    const date = digitsAt(text, start, 4) * 10_000 + digitsAt(text, start + 5, 2) * 100 + digitsAt(text, start + 8, 2);
    const hour = digitsAt(text, start + 11, 2);
    const minute = digitsAt(text, start + 14, 2);
    const second = digitsAt(text, start + 17, 2);
    const millisecond = digitsAt(text, start + 20, 3);
    // digitsAt returns NaN for a non-digit, which fails these tests. Date.parse accepts hour 24
    // only as 24:00:00.000, the end of the day, so that goes the slow way too.
    if (date >= 0 && hour < 24 && minute < 60 && second < 60 && millisecond >= 0) {
      return days.startMillis(text, start, date) + hour * 3_600_000 + minute * 60_000 + second * 1000 + millisecond;
    }
  }
  return new Date(text.slice(start, start + length)).getTime();
}

/** The start of the last day that isoTimeMillis read. */
export class UtcDays {
  private date = -1;
  private millis = Number.NaN;

  /** Returns Date.parse of the "YYYY-MM-DD" at text[start], whose digits read `date`, at midnight UTC. */
  startMillis(text: string, start: number, date: number): number {
    if (date !== this.date) {
      this.date = date;
      this.millis = Date.parse(`${text.slice(start, start + 10)}T00:00:00.000Z`);
    }
    return this.millis;
  }
}

/** Returns whether text[start, start + 24) has the separators of "YYYY-MM-DDTHH:mm:ss.sssZ". */
function hasIsoTimeSeparators(text: string, start: number): boolean {
  return (
    text.charCodeAt(start + 4) === 0x2d &&
    text.charCodeAt(start + 7) === 0x2d &&
    text.charCodeAt(start + 10) === 0x54 &&
    text.charCodeAt(start + 13) === 0x3a &&
    text.charCodeAt(start + 16) === 0x3a &&
    text.charCodeAt(start + 19) === 0x2e &&
    text.charCodeAt(start + 23) === 0x5a
  );
}

/** Reads `count` decimal digits at text[start], or returns NaN when one is not a digit. */
function digitsAt(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = 0; i < count; i += 1) {
    const digit = text.charCodeAt(start + i) - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}

/** Rows [start, end) of a batch. */
interface BatchSegment {
  batch: DecodedAnalystBatch;
  start: number;
  end: number;
}

/**
 * The cells of one row group, read from the batches that contain its rows. Each column comes in a
 * value type that the Parquet writer turns into the same bytes as the strings, Dates and bigints
 * of the encoders before. created_at comes as bigint milliseconds, and a plain-encoded ASCII text
 * column as UTF-8 bytes.
 */
class RowGroupCells {
  /** Whether every text cell is ASCII. */
  readonly ascii: boolean;

  constructor(
    private readonly segments: readonly BatchSegment[],
    readonly rows: number,
  ) {
    this.ascii = segments.every((segment) => segment.batch.asciiBytes !== undefined);
  }

  texts(column: number, repeated: RepeatedTexts): (string | null)[] {
    const values = new Array<string | null>(this.rows);
    let i = 0;
    for (const { batch, start, end } of this.segments) {
      for (let row = start; row < end; row += 1) values[i++] = repeated.read(batch, row * TEXT_COLUMN_COUNT + column);
    }
    return values;
  }

  /** Returns the UTF-8 bytes of each cell of an all-ASCII group, as views of the batches' bytes. */
  textBytes(column: number): (Uint8Array | null)[] {
    const values = new Array<Uint8Array | null>(this.rows);
    let i = 0;
    for (const { batch, start, end } of this.segments) {
      const bytes = batch.asciiBytes as Uint8Array;
      for (let row = start; row < end; row += 1) {
        const cell = row * TEXT_COLUMN_COUNT + column;
        const length = batch.textLengths[cell];
        // The constructor makes a view with less work than subarray(), which looks up a species constructor.
        values[i++] = length < 0 ? null : new Uint8Array(bytes.buffer, bytes.byteOffset + batch.textStarts[cell], length);
      }
    }
    return values;
  }

  scores(): number[] {
    const values = new Array<number>(this.rows);
    let i = 0;
    for (const { batch, start, end } of this.segments) {
      for (let row = start; row < end; row += 1) values[i++] = batch.scores[row];
    }
    return values;
  }

  ledgerSeqs(): bigint[] {
    const values = new Array<bigint>(this.rows);
    let i = 0;
    for (const { batch, start, end } of this.segments) {
      for (let row = start; row < end; row += 1) values[i++] = BigInt(batch.ledgerSeqs[row]);
    }
    return values;
  }

  /**
   * Returns the times of a text column in UTC milliseconds, and `whenNull` for a null cell. The
   * writer stores a bigint as it is and a Date as the bigint of its getTime(), and computes min/max
   * statistics from the same numbers, so both give the same bytes as the Dates written before.
   */
  timeMillis(column: number, whenNull: bigint | null): (bigint | null)[] {
    const values = new Array<bigint | null>(this.rows);
    const days = new UtcDays();
    let i = 0;
    for (const { batch, start, end } of this.segments) {
      for (let row = start; row < end; row += 1) {
        const cell = row * TEXT_COLUMN_COUNT + column;
        const length = batch.textLengths[cell];
        values[i++] = length < 0 ? whenNull : BigInt(isoTimeMillis(batch.text, batch.textStarts[cell], length, days));
      }
    }
    return values;
  }

  /**
   * Repeats the first step of hyparquet-writer 0.17.0's dictionary choice (useDictionary in
   * src/dictionary.js) for a text column. That step samples up to 1,000 values spread over the
   * group and encodes the column plain when distinct values make up more than 90% of the sampled
   * bytes.
   * When this returns true, passing `encoding: 'PLAIN'` writes the bytes that the writer's own
   * choice would write, without its sampling. The writer keys byte-array samples by a 32-bit hash,
   * so only string samples reach the same choice for certain; this method samples strings.
   * NOTE: this copies a rule of the writer version that package.json pins. After an upgrade, the
   * tests that compare with the writer's one-shot output show whether the rule still holds.
   */
  dictionarySamplingRejects(column: number, repeated: RepeatedTexts): boolean {
    const sampleSize = Math.min(this.rows, 1000);
    const sampledSizes = new Map<string | null, number>();
    let distinctSize = 0;
    let totalSize = 0;
    let segment = 0;
    let segmentFirst = 0;
    for (let i = 0; i < sampleSize; i += 1) {
      const index = sampleSize === 1 ? 0 : Math.floor((i * (this.rows - 1)) / (sampleSize - 1));
      while (index >= segmentFirst + this.segments[segment].end - this.segments[segment].start) {
        segmentFirst += this.segments[segment].end - this.segments[segment].start;
        segment += 1;
      }
      const { batch, start } = this.segments[segment];
      const value = repeated.read(batch, (start + index - segmentFirst) * TEXT_COLUMN_COUNT + column);
      let size = sampledSizes.get(value);
      if (size === undefined) {
        // The writer counts a string as its length in UTF-16 code units plus a 4-byte length prefix.
        size = value === null ? 0 : value.length + 4;
        sampledSizes.set(value, size);
        distinctSize += size;
      }
      totalSize += size;
    }
    return totalSize === 0 || distinctSize / totalSize > 0.9;
  }
}

// ---------------------------------------------------------------------------------------------
// Both files

/** Encodes both analyst files from batches: in the worker thread, or in the caller's thread when the worker failed. */
export class AnalystFilesEncoder {
  private readonly csv: AnalystCsvWriter;
  private readonly parquet: AnalystParquetWriter;

  constructor(layout: AnalystLayout) {
    this.csv = new AnalystCsvWriter(layout.columns);
    this.parquet = new AnalystParquetWriter(layout);
  }

  add(batch: AnalystBatch): void {
    const decoded = decodeAnalystBatch(batch);
    this.csv.add(decoded);
    this.parquet.add(decoded);
  }

  finish(): AnalystFiles {
    return { csv: this.csv.finish(), parquet: this.parquet.finish() };
  }
}
