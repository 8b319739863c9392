import { canonicalJson, sha256Hex } from '../../common/src/index.js';
import type { DatasetDefinition, SourceRow } from '../../ingestion/src/index.js';

const HOUR_MS = 3_600_000;

/**
 * Adds the event key and event time that the dataset's `events` section derives, to a parsed
 * file row that lacks them. Rows that already carry a value keep it; rows that are not objects
 * or failed to parse pass through unchanged, so validation quarantines them as usual.
 *
 * The key is `prefix` + the first 24 hex digits of SHA-256 over the row's line number and
 * canonical JSON: replaying the same file yields the same keys, so a replay stores nothing twice.
 */
export function deriveEventFields(definition: DatasetDefinition, row: SourceRow): SourceRow {
  const events = definition.events;
  const value = row.value;
  if (!events || row.parseErrors || value === null || typeof value !== 'object' || Array.isArray(value)) return row;
  const record = { ...(value as Record<string, unknown>) };

  const hourIndex = events.timeFromHourIndex;
  if (hourIndex && record[events.timeField] === undefined) {
    const hours = Number(record[hourIndex.field]);
    if (record[hourIndex.field] !== undefined && Number.isFinite(hours)) {
      record[events.timeField] = new Date(Date.parse(hourIndex.epoch) + hours * HOUR_MS).toISOString();
    }
  }
  const keyRule = events.keyFromRowHash;
  if (keyRule && record[definition.recordKey] === undefined) {
    const digest = sha256Hex(`${row.row}\n${canonicalJson(record)}`);
    record[definition.recordKey] = `${keyRule.prefix}${digest.slice(0, 24)}`;
  }
  return { row: row.row, value: record };
}
