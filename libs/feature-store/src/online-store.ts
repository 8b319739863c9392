import type { EntityManager } from 'typeorm';
import type { DatasetRecord } from '../../ingestion/src/index.js';
import { distinctFields, numericFields, type FeatureView } from './feature-view.js';
import type { RawAggregate } from './feature-values.js';
import { bucketStart } from './windows.js';

type Queryable = Pick<EntityManager, 'query'>;

/** Field name of the rows that count events in feature_store.bucket_stats, for views whose countField is `*`. */
export const EVENT_COUNT_FIELD = '*';

export interface StoreScope {
  tenant: string;
  view: FeatureView;
}

/**
 * Adds records to the view's per-bucket aggregates, in the caller's transaction, with two
 * statements whatever the number of records. Call it once per record: it adds, so a record applied
 * twice counts twice (stream ingestion passes only the records its insert stored for the first
 * time). Records without an entity key or a valid event time are skipped and counted.
 */
export async function applyRecordsToStore(manager: Queryable, scope: StoreScope, records: readonly DatasetRecord[]): Promise<{ applied: number; skipped: number }> {
  const { view } = scope;
  const sums = numericFields(view);
  const distincts = distinctFields(view);
  const stats = { entities: [] as string[], buckets: [] as string[], fields: [] as string[], values: [] as (string | null)[] };
  const sets = { entities: [] as string[], buckets: [] as string[], fields: [] as string[], values: [] as string[] };
  let applied = 0;
  let skipped = 0;

  for (const record of records) {
    const entity = record[view.entity];
    const time = Date.parse(String(record[view.timeField]));
    if (entity === undefined || entity === null || Number.isNaN(time)) {
      skipped += 1;
      continue;
    }
    applied += 1;
    const entityKey = String(entity);
    const bucket = new Date(bucketStart(time, view.bucketMs)).toISOString();
    if (view.countField === EVENT_COUNT_FIELD) pushRow(stats, entityKey, bucket, EVENT_COUNT_FIELD, null);
    for (const field of sums) {
      const value = record[field];
      if (typeof value === 'number') pushRow(stats, entityKey, bucket, field, String(value));
    }
    for (const field of distincts) {
      const value = record[field];
      if (value !== undefined && value !== null) pushRow(sets, entityKey, bucket, field, String(value));
    }
  }
  if (applied === 0) return { applied, skipped };

  // Rows are grouped per bucket first, because ON CONFLICT cannot update one row twice in a
  // statement, and inserted in key order, so concurrent batches lock rows in the same order.
  await manager.query(
    `INSERT INTO feature_store.bucket_stats AS s
       (tenant, view, view_version, entity_key, bucket_start, field, event_count, value_sum, value_min, value_max)
     SELECT $1, $2, $3, e.entity_key, e.bucket_start, e.field, count(*), sum(e.value), min(e.value), max(e.value)
       FROM unnest($4::text[], $5::timestamptz[], $6::text[], $7::numeric[]) AS e(entity_key, bucket_start, field, value)
      GROUP BY e.entity_key, e.bucket_start, e.field
      ORDER BY e.entity_key, e.bucket_start, e.field
     ON CONFLICT (tenant, view, view_version, entity_key, bucket_start, field) DO UPDATE SET
       event_count = s.event_count + EXCLUDED.event_count,
       value_sum = s.value_sum + EXCLUDED.value_sum,
       value_min = LEAST(s.value_min, EXCLUDED.value_min),
       value_max = GREATEST(s.value_max, EXCLUDED.value_max)`,
    [scope.tenant, view.name, view.version, stats.entities, stats.buckets, stats.fields, stats.values],
  );
  if (sets.entities.length > 0) {
    await manager.query(
      `INSERT INTO feature_store.bucket_values (tenant, view, view_version, entity_key, bucket_start, field, value)
       SELECT DISTINCT $1, $2, $3, e.entity_key, e.bucket_start, e.field, e.value
         FROM unnest($4::text[], $5::timestamptz[], $6::text[], $7::text[]) AS e(entity_key, bucket_start, field, value)
       ON CONFLICT DO NOTHING`,
      [scope.tenant, view.name, view.version, sets.entities, sets.buckets, sets.fields, sets.values],
    );
  }
  return { applied, skipped };
}

function pushRow<T extends string | null>(
  target: { entities: string[]; buckets: string[]; fields: string[]; values: T[] },
  entity: string,
  bucket: string,
  field: string,
  value: T,
): void {
  target.entities.push(entity);
  target.buckets.push(bucket);
  target.fields.push(field);
  target.values.push(value);
}

/** A compiled read of one view: the SQL text and how to bind an entity and a cut. */
export interface OnlineQuery {
  sql: string;
  parameters(tenant: string, entityKey: string, cutMs: number): unknown[];
}

/**
 * Builds the single statement that reads every aggregation of a view for one entity. Windows end
 * at `cut` (the start of the as-of bucket) and start `window` before it.
 */
export function buildOnlineQuery(view: FeatureView): OnlineQuery {
  // $1 tenant, $2 view, $3 version, $4 entity, $5 cut, $6 start of the longest window.
  const fixed = 6;
  const windows = [...new Set(view.aggregations.map((aggregation) => aggregation.windowMs))];
  const fieldOf = (aggregation: FeatureView['aggregations'][number]) => (aggregation.function === 'count' ? view.countField : (aggregation.field as string));
  const fields = [...new Set(view.aggregations.map(fieldOf))];
  const windowParameter = (windowMs: number) => `$${fixed + 1 + windows.indexOf(windowMs)}::timestamptz`;
  const fieldParameter = (field: string) => `$${fixed + 1 + windows.length + fields.indexOf(field)}`;

  const columns = view.aggregations.map((aggregation, index) => {
    const from = windowParameter(aggregation.windowMs);
    const field = fieldParameter(fieldOf(aggregation));
    const filter = `FILTER (WHERE field = ${field} AND bucket_start >= ${from})`;
    switch (aggregation.function) {
      case 'count':
        return `coalesce(sum(event_count) ${filter}, 0)::text AS c${index}, NULL::text AS v${index}`;
      case 'sum':
      case 'mean':
        return `coalesce(sum(event_count) ${filter}, 0)::text AS c${index}, (sum(value_sum) ${filter})::text AS v${index}`;
      case 'min':
        return `coalesce(sum(event_count) ${filter}, 0)::text AS c${index}, (min(value_min) ${filter})::text AS v${index}`;
      case 'max':
        return `coalesce(sum(event_count) ${filter}, 0)::text AS c${index}, (max(value_max) ${filter})::text AS v${index}`;
      case 'distinct_count':
        return `(SELECT count(DISTINCT value) FROM feature_store.bucket_values
                  WHERE tenant = $1 AND view = $2 AND view_version = $3 AND entity_key = $4
                    AND field = ${field} AND bucket_start >= ${from} AND bucket_start < $5::timestamptz)::text AS c${index},
                NULL::text AS v${index}`;
    }
  });
  const sql = `SELECT ${columns.join(',\n')}
    FROM feature_store.bucket_stats
   WHERE tenant = $1 AND view = $2 AND view_version = $3 AND entity_key = $4
     AND bucket_start >= $6::timestamptz AND bucket_start < $5::timestamptz`;

  return {
    sql,
    parameters(tenant, entityKey, cutMs) {
      return [
        tenant,
        view.name,
        view.version,
        entityKey,
        new Date(cutMs).toISOString(),
        new Date(cutMs - view.maxWindowMs).toISOString(),
        ...windows.map((windowMs) => new Date(cutMs - windowMs).toISOString()),
        ...fields,
      ];
    },
  };
}

/** Converts the one row of an online or offline read into raw aggregates in view order. */
export function rowToRawAggregates(view: FeatureView, row: Record<string, string | null>): RawAggregate[] {
  return view.aggregations.map((_, index) => ({ count: Number(row[`c${index}`] ?? 0), numeric: row[`v${index}`] ?? null }));
}
