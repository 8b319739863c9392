import type { EntityManager } from 'typeorm';
import type { FeatureView } from './feature-view.js';
import type { RawAggregate } from './feature-values.js';
import { bucketStart } from './windows.js';

type Queryable = Pick<EntityManager, 'query'>;

/** One label row of a training set: whose features, as of when. */
export interface LabelPoint {
  entityKey: string;
  asOfMs: number;
}

/** Labels per statement; bounds the size of the parameter arrays. */
const LABELS_PER_QUERY = 5000;

/**
 * Recomputes the view's aggregates from the stored source records (ingestion.records), not from
 * the online store, for each label point. The windows are the online store's: events with
 * `cut - window <= event time < cut`, where `cut` is the start of the bucket containing the
 * label's time. Because windows and the cut fall on bucket edges, comparing raw event times gives
 * the same events as comparing bucket starts online.
 * NOTE: this scans the tenant's records of the source dataset for the labelled entities; there is
 * no index on the entity field inside the jsonb record, so very large histories are slow.
 */
export async function computeOfflineAggregates(manager: Queryable, tenant: string, view: FeatureView, labels: readonly LabelPoint[]): Promise<RawAggregate[][]> {
  const results: RawAggregate[][] = [];
  for (let start = 0; start < labels.length; start += LABELS_PER_QUERY) {
    const chunk = labels.slice(start, start + LABELS_PER_QUERY);
    results.push(...(await computeChunk(manager, tenant, view, chunk)));
  }
  return results;
}

async function computeChunk(manager: Queryable, tenant: string, view: FeatureView, labels: readonly LabelPoint[]): Promise<RawAggregate[][]> {
  // $1 tenant, $2 dataset, $3 entity field, $4 time field, $5 indexes, $6 entities, $7 cuts, $8 longest window.
  const parameters: unknown[] = [
    tenant,
    view.source,
    view.entity,
    view.timeField,
    labels.map((_, index) => index),
    labels.map((label) => label.entityKey),
    labels.map((label) => new Date(bucketStart(label.asOfMs, view.bucketMs)).toISOString()),
    `${view.maxWindowMs} milliseconds`,
  ];
  const bind = (value: unknown) => {
    parameters.push(value);
    return `$${parameters.length}`;
  };

  const columns = view.aggregations.map((aggregation, index) => {
    const filter = `FILTER (WHERE e.event_time >= l.cut - ${bind(`${aggregation.windowMs} milliseconds`)}::interval)`;
    if (aggregation.function === 'count') return `count(e.event_time) ${filter}::text AS c${index}, NULL::text AS v${index}`;
    const field = bind(aggregation.field);
    const value = `(e.record ->> ${field})`;
    if (aggregation.function === 'distinct_count') return `count(DISTINCT ${value}) ${filter}::text AS c${index}, NULL::text AS v${index}`;
    const numeric = `${value}::numeric`;
    const aggregate = aggregation.function === 'min' ? 'min' : aggregation.function === 'max' ? 'max' : 'sum';
    return `count(${value}) ${filter}::text AS c${index}, (${aggregate}(${numeric}) ${filter})::text AS v${index}`;
  });

  const rows: Record<string, string | null>[] = await manager.query(
    `WITH labels AS (
       SELECT * FROM unnest($5::int[], $6::text[], $7::timestamptz[]) AS l(idx, entity_key, cut)
     ),
     events AS (
       SELECT r.record ->> $3 AS entity_key, (r.record ->> $4)::timestamptz AS event_time, r.record
         FROM ingestion.records r
        WHERE r.tenant = $1 AND r.dataset = $2 AND r.record ->> $3 = ANY($6::text[])
     )
     SELECT l.idx, ${columns.join(',\n')}
       FROM labels l
       LEFT JOIN events e
         ON e.entity_key = l.entity_key AND e.event_time >= l.cut - $8::interval AND e.event_time < l.cut
      GROUP BY l.idx
      ORDER BY l.idx`,
    parameters,
  );
  return rows.map((row) => view.aggregations.map((_, index) => ({ count: Number(row[`c${index}`] ?? 0), numeric: row[`v${index}`] ?? null })));
}
