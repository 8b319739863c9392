import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parse as parseCsvText } from 'csv-parse/sync';
import { BadUserInputError, type FieldError } from '../../common/src/index.js';
import type { FeatureView } from './feature-view.js';
import type { TrainingLabel, TrainingSet } from './feature-store.service.js';

const ENTITY_COLUMNS = ['entity_key'];
const TIME_COLUMNS = ['as_of', 'timestamp', 'event_time'];

/**
 * Reads a labels file (CSV with a header, or JSONL by extension .jsonl/.ndjson). Each row names
 * the entity (column `entity_key` or the view's entity field), the time (`as_of`, `timestamp` or
 * `event_time`, ISO 8601) and the `label`; columns named like the view's inputs are passed to
 * the derived features.
 */
export function readLabelsFile(path: string, view: FeatureView): TrainingLabel[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new BadUserInputError(`Cannot read ${path} (${code}).`, [{ field: '--labels', message: `${path} cannot be read (${code}); check that the file exists` }]);
  }
  const jsonl = ['.jsonl', '.ndjson'].includes(extname(path).toLowerCase());
  const rows = jsonl ? parseJsonLines(text, path) : (parseCsvText(text, { columns: true, skip_empty_lines: true, bom: true, trim: true }) as Record<string, unknown>[]);
  return rows.map((row, index) => toLabel(row, index + 1, view, basename(path)));
}

function parseJsonLines(text: string, path: string): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      throw new BadUserInputError(`${basename(path)} line ${index + 1} is not valid JSON.`, [
        { field: '--labels', message: `line ${index + 1} of ${basename(path)} must be one JSON object` },
      ]);
    }
  });
  return rows;
}

function toLabel(row: Record<string, unknown>, rowNumber: number, view: FeatureView, fileName: string): TrainingLabel {
  const pick = (names: string[]) => names.map((name) => row[name]).find((value) => value !== undefined && value !== '');
  const entity = pick([...ENTITY_COLUMNS, view.entity]);
  const time = pick(TIME_COLUMNS);
  const errors: FieldError[] = [];
  if (entity === undefined) errors.push({ field: 'entity_key', message: `row ${rowNumber} of ${fileName} needs an entity_key or ${view.entity} column` });
  const asOf = new Date(String(time));
  if (time === undefined || Number.isNaN(asOf.getTime())) {
    errors.push({ field: 'as_of', message: `row ${rowNumber} of ${fileName} needs an as_of, timestamp or event_time column with an ISO 8601 date-time` });
  }
  if (errors.length > 0) throw new BadUserInputError(`Invalid labels file ${fileName}: ${errors.map((error) => error.message).join('; ')}.`, errors);

  const inputs: Record<string, number | null> = {};
  for (const input of view.inputs) {
    const value = row[input];
    inputs[input] = value === undefined || value === '' || value === null || Number.isNaN(Number(value)) ? null : Number(value);
  }
  const label = row.label;
  return {
    entityKey: String(entity),
    asOf,
    label: label === undefined || label === '' ? null : typeof label === 'number' ? label : String(label),
    inputs,
  };
}

/** Formats a training set as CSV (header, then one row per label) or as JSON Lines. */
export function formatTrainingSet(set: TrainingSet, format: 'csv' | 'jsonl'): string {
  if (format === 'jsonl') {
    return set.rows.map((row) => JSON.stringify({ entity_key: row.entityKey, as_of: row.asOf, window_end: row.windowEnd, label: row.label, ...row.values })).join('\n') + '\n';
  }
  const header = ['entity_key', 'as_of', 'window_end', 'label', ...set.features];
  const lines = set.rows.map((row) =>
    [row.entityKey, row.asOf, row.windowEnd, row.label, ...set.features.map((name) => row.values[name])].map(csvCell).join(','),
  );
  return [header.join(','), ...lines].join('\n') + '\n';
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
