import type { EntityManager } from 'typeorm';

/** Row counts of one dataset's purge, per table. */
export interface DatasetRowCounts {
  /** ingestion.records, by ingested_at. */
  records: number;
  /** ingestion.quarantine, by created_at. */
  quarantine: number;
  /** streaming.dead_letters whose subject names the dataset, by created_at. */
  deadLetters: number;
  /** feature_store.bucket_stats of views whose source is the dataset, by bucket_start. */
  bucketStats: number;
  /** feature_store.bucket_values of the same views, by bucket_start. */
  bucketValues: number;
}

export type DatasetTable = keyof DatasetRowCounts;

export const DATASET_TABLES: readonly DatasetTable[] = ['records', 'quarantine', 'deadLetters', 'bucketStats', 'bucketValues'];

export function emptyRowCounts(): DatasetRowCounts {
  return { records: 0, quarantine: 0, deadLetters: 0, bucketStats: 0, bucketValues: 0 };
}

export function totalRows(counts: DatasetRowCounts): number {
  return DATASET_TABLES.reduce((sum, table) => sum + counts[table], 0);
}

/**
 * Versions of feature views whose rows belong to the dataset $1, as registered in
 * feature_store.views. A view name can change its source between versions, so the version is
 * part of the match. Every configured view is registered before its first bucket is written.
 */
const VIEWS_OF_DATASET = `(SELECT name COLLATE "C", version COLLATE "C" FROM feature_store.views WHERE definition->>'source' = $1)`;

/**
 * The cutoffs of one dataset purge: quarantine rows and dead letters stored before `rows` are due,
 * records stored before `records`, and feature buckets that start before `buckets`. With feature
 * views, `records` and `buckets` lie the views' maximum window and bucket width before `rows`,
 * because a retained decision and its replay read that far back (see DatasetLinks).
 */
export interface DatasetCutoffs {
  rows: Date;
  records: Date;
  buckets: Date;
}

/**
 * Per table: the rows of the dataset $1 older than the table's cutoff $2, with the alias `t`, and
 * the columns that identify a row.
 * A dead letter belongs to the dataset named by the last token of its subject, which is how the
 * stream consumer picks the dataset of a message (`warden.events.<dataset>`). Dataset names contain
 * no dot, so the subject ends with `.<dataset>` exactly then.
 */
const TABLES: Record<DatasetTable, { from: string; where: string; key: string; cutoff: keyof DatasetCutoffs }> = {
  records: {
    from: 'ingestion.records',
    where: 't.dataset = $1 AND t.ingested_at < $2',
    key: 'tenant, dataset, record_key',
    cutoff: 'records',
  },
  quarantine: {
    from: 'ingestion.quarantine',
    where: 't.dataset = $1 AND t.created_at < $2',
    key: 'id',
    cutoff: 'rows',
  },
  deadLetters: {
    from: 'streaming.dead_letters',
    where: `right(t.subject, length($1::text) + 1) = '.' || $1::text AND t.created_at < $2`,
    key: 'id',
    cutoff: 'rows',
  },
  // Buckets start at the event time, so the aggregates of an event ingested late can go before
  // its record does. They are derived rows, and the record keeps the event for its full period.
  bucketStats: {
    from: 'feature_store.bucket_stats',
    where: `(t.view, t.view_version) IN ${VIEWS_OF_DATASET} AND t.bucket_start < $2`,
    key: 'tenant, view, view_version, entity_key, bucket_start, field',
    cutoff: 'buckets',
  },
  bucketValues: {
    from: 'feature_store.bucket_values',
    where: `(t.view, t.view_version) IN ${VIEWS_OF_DATASET} AND t.bucket_start < $2`,
    key: 'tenant, view, view_version, entity_key, field, bucket_start, value',
    cutoff: 'buckets',
  },
};

/** Returns the due rows of the dataset per tenant and table, for tenants with any. */
export async function countDueRows(
  manager: Pick<EntityManager, 'query'>,
  dataset: string,
  cutoffs: DatasetCutoffs,
): Promise<Map<string, DatasetRowCounts>> {
  const byTenant = new Map<string, DatasetRowCounts>();
  for (const table of DATASET_TABLES) {
    const { from, where } = TABLES[table];
    const rows: { tenant: string; n: number }[] = await manager.query(
      `SELECT t.tenant, count(*)::int AS n FROM ${from} t WHERE ${where} GROUP BY t.tenant`,
      [dataset, cutoffs[TABLES[table].cutoff]],
    );
    for (const row of rows) {
      const counts = byTenant.get(row.tenant) ?? emptyRowCounts();
      counts[table] = row.n;
      byTenant.set(row.tenant, counts);
    }
  }
  return byTenant;
}

/**
 * Deletes at most `limit` due rows of the tenant's dataset from each table and returns how many
 * went from each. Rows that another transaction has locked are skipped until the next batch.
 */
export async function deleteDueRows(
  manager: Pick<EntityManager, 'query'>,
  tenant: string,
  dataset: string,
  cutoffs: DatasetCutoffs,
  limit: number,
): Promise<DatasetRowCounts> {
  const counts = emptyRowCounts();
  for (const table of DATASET_TABLES) {
    const { from, where, key, cutoff } = TABLES[table];
    const values = [dataset, cutoffs[cutoff], tenant];
    const rows: { n: number }[] = await manager.query(
      `WITH deleted AS (
         DELETE FROM ${from} WHERE (${key}) IN (
           SELECT ${key} FROM ${from} t WHERE t.tenant = $${values.length} AND ${where} LIMIT ${limit} FOR UPDATE SKIP LOCKED)
         RETURNING 1)
       SELECT count(*)::int AS n FROM deleted`,
      values,
    );
    counts[table] = rows[0].n;
  }
  return counts;
}
