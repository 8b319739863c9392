import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parse as parseCsvText } from 'csv-parse/sync';
import { BadUserInputError, sha256Hex } from '../../common/src/index.js';
import { SOURCE_FORMATS, type DatasetDefinition, type RowKeyRule, type SourceFormat } from './dataset-definition.js';
import { WHOLE_RECORD_FIELD, type SourceRow } from './record-validation.js';

/**
 * Rows parsed from a file. Each `row` is the 1-based line number where the record starts. Values
 * are strings as read (CSV, data) or JSON values (JSONL). Empty cells are left out.
 */
export interface ParsedFile {
  format: SourceFormat;
  fileName: string;
  /** SHA-256 (hex) of the file's bytes. */
  sha256: string;
  byteLength: number;
  rows: SourceRow[];
}

const FORMAT_BY_EXTENSION: Record<string, SourceFormat> = {
  '.csv': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.data': 'data',
};

/**
 * Reads and parses a source file with the definition's mapping for its format. The format comes
 * from `format` or else from the extension (.csv, .jsonl/.ndjson, .data).
 * NOTE: the whole file is read into memory; very large files belong in several batches.
 */
export function parseFile(path: string, definition: DatasetDefinition, format?: SourceFormat): ParsedFile {
  const fileName = basename(path);
  const chosen = format ?? FORMAT_BY_EXTENSION[extname(path).toLowerCase()];
  if (!chosen || !SOURCE_FORMATS.includes(chosen)) {
    throw new BadUserInputError(`Cannot tell the format of ${fileName}.`, [
      {
        field: 'format',
        message: `format is unknown for ${fileName}; name the file .csv, .jsonl, .ndjson or .data, or pass format as one of ${SOURCE_FORMATS.join(', ')}`,
      },
    ]);
  }

  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new BadUserInputError(`Cannot read ${path} (${code}).`, [
      { field: 'path', message: `${path} cannot be read (${code}); check that the file exists and is readable` },
    ]);
  }

  const text = bytes.toString('utf8');
  const rows = parseByFormat(chosen, text, definition, fileName);
  return { format: chosen, fileName, sha256: sha256Hex(bytes), byteLength: bytes.length, rows };
}

function parseByFormat(format: SourceFormat, text: string, definition: DatasetDefinition, fileName: string): SourceRow[] {
  switch (format) {
    case 'csv':
      return parseCsv(text, definition, fileName);
    case 'jsonl':
      return parseJsonl(text, definition);
    case 'data':
      return parseGermanData(text, definition);
  }
}

/**
 * Parses CSV with a header row through the definition's `csv` mapping: headers are matched to
 * fields by name after `rename`.
 * A row with a different number of cells than the header becomes a row with a parse error. A
 * quoting error stops the whole file, because the parser cannot tell where later rows start.
 */
export function parseCsv(text: string, definition: DatasetDefinition, fileName = 'the CSV input'): SourceRow[] {
  const mapping = definition.mappings.csv ?? {};
  let parsed: { record: string[]; info: { lines: number } }[];
  try {
    // With `info: true` each item is { record, info }, which the overloads do not express.
    parsed = parseCsvText(text, { info: true, relax_column_count: true, skip_empty_lines: true, bom: true, trim: true }) as unknown as typeof parsed;
  } catch (error) {
    const line = (error as { lines?: number }).lines;
    const code = (error as { code?: string }).code ?? 'CSV_INVALID';
    throw new BadUserInputError(`${fileName} is not valid CSV${line ? ` at line ${line}` : ''} (${code}).`, [
      { field: 'path', message: `${fileName} is not valid CSV${line ? ` at line ${line}` : ''} (${code}); fix the quoting and send the file again` },
    ]);
  }
  if (parsed.length === 0) return [];

  const header = parsed[0].record.map((name) => mapping.rename?.[name] ?? name);
  const rows: SourceRow[] = [];
  parsed.slice(1).forEach(({ record: cells, info }, index) => {
    const row = info.lines - cells.reduce((count, cell) => count + (cell.split('\n').length - 1), 0);
    if (cells.length !== header.length) {
      rows.push(columnCountError(row, cells, header.length));
      return;
    }
    const value: Record<string, string> = {};
    header.forEach((field, column) => {
      if (cells[column] !== '') value[field] = cells[column];
    });
    rows.push({ row, value: withDerivedKey(value, definition, mapping.recordKeyFromRow, index + 1) });
  });
  return rows;
}

/**
 * Parses JSON Lines through the definition's optional `jsonl` mapping: one JSON value per line,
 * blank lines skipped. A line that is not valid JSON
 * becomes a row with a parse error whose value is the raw line, so the quarantine keeps it.
 */
export function parseJsonl(text: string, definition: DatasetDefinition): SourceRow[] {
  const mapping = definition.mappings.jsonl ?? {};
  const rows: SourceRow[] = [];
  let ordinal = 0;
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, '').replace(/^\uFEFF/, '');
    if (line.trim() === '') return;
    ordinal += 1;
    const row = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      // JSON.parse's own message quotes the text, so it is not repeated here.
      rows.push({
        row,
        value: line,
        parseErrors: [{ field: WHOLE_RECORD_FIELD, message: `line ${row} is not valid JSON; each line must contain one JSON object` }],
      });
      return;
    }
    const renamed = renameFields(value, mapping.rename);
    rows.push({ row, value: withDerivedKey(renamed, definition, mapping.recordKeyFromRow, ordinal) });
  });
  return rows;
}

/**
 * Parses whitespace-separated positional columns without a header, as in the Statlog
 * german.data file, through the definition's `data` mapping, whose `columns` name the field of
 * each column.
 */
export function parseGermanData(text: string, definition: DatasetDefinition): SourceRow[] {
  const mapping = definition.mappings.data ?? {};
  const columns = mapping.columns;
  if (!columns || columns.length === 0) {
    throw new BadUserInputError('The dataset has no positional column mapping.', [
      { field: 'format', message: 'format data needs mappings.data.columns in the dataset definition; add it or send CSV or JSONL' },
    ]);
  }

  const rows: SourceRow[] = [];
  let ordinal = 0;
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '') return;
    ordinal += 1;
    const row = index + 1;
    const cells = line.split(/\s+/);
    if (cells.length !== columns.length) {
      rows.push(columnCountError(row, cells, columns.length));
      return;
    }
    const value: Record<string, string> = {};
    columns.forEach((field, column) => {
      value[field] = cells[column];
    });
    rows.push({ row, value: withDerivedKey(value, definition, mapping.recordKeyFromRow, ordinal) });
  });
  return rows;
}

/** Formats the key that `rule` derives for the data row with this 1-based ordinal. */
export function rowKey(rule: RowKeyRule, ordinal: number): string {
  return `${rule.prefix}${String(ordinal).padStart(rule.digits, '0')}`;
}

/** Adds the key derived from the row ordinal unless the row already has a key of its own. */
function withDerivedKey(value: unknown, definition: DatasetDefinition, rule: RowKeyRule | undefined, ordinal: number): unknown {
  if (!rule || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const record = value as Record<string, unknown>;
  if (record[definition.recordKey] !== undefined) return record;
  return { [definition.recordKey]: rowKey(rule, ordinal), ...record };
}

function renameFields(value: unknown, rename: Record<string, string> | undefined): unknown {
  if (!rename || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const renamed: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) renamed[rename[name] ?? name] = item;
  return renamed;
}

function columnCountError(row: number, cells: string[], expected: number): SourceRow {
  return {
    row,
    value: cells,
    parseErrors: [{ field: WHOLE_RECORD_FIELD, message: `line ${row} has ${cells.length} columns, but the mapping expects ${expected}` }],
  };
}
