import type { DataSource } from 'typeorm';
import type { LedgerAppender } from '../../audit/src/index.js';
import { getLogger } from '../../common/src/index.js';
import type { DatasetRecord } from '../../ingestion/src/index.js';
import type { FeatureView } from './feature-view.js';
import { applyRecordsToStore } from './online-store.js';

export interface BackfillOptions {
  tenant: string;
  actor: string;
  /** Records per transaction. */
  pageSize?: number;
  /** Stops after this many pages, leaving the checkpoint for the next run. */
  maxPages?: number;
  /** Throws away a finished or partial backfill and starts again from the first record. */
  restart?: boolean;
}

export interface BackfillResult {
  view: string;
  viewVersion: string;
  status: 'running' | 'done';
  /** Records applied over all runs of this backfill. */
  eventsApplied: number;
  /** Pages applied by this run. */
  pages: number;
}

const DEFAULT_PAGE_SIZE = 2000;

/**
 * Rebuilds a view's online store from the tenant's stored records of its source dataset, in
 * pages ordered by record key. Each page's aggregates and the checkpoint (the last record key)
 * commit in one transaction, so a run that stops or crashes resumes after the last committed page
 * and applies no record twice. A fresh start clears the view version's store first.
 * NOTE: records that stream ingestion stores while a backfill runs are counted twice when their
 * key sorts after the checkpoint; stop the stream consumers of the dataset while backfilling.
 */
export async function runBackfill(dataSource: DataSource, ledger: LedgerAppender, view: FeatureView, options: BackfillOptions): Promise<BackfillResult> {
  const log = getLogger('feature-backfill').child({ view: view.name, viewVersion: view.version, tenant: options.tenant });
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const scope = { tenant: options.tenant, view };
  const key = [options.tenant, view.name, view.version];

  let checkpoint = await readCheckpoint(dataSource, key);
  if (!checkpoint || options.restart) {
    await dataSource.transaction(async (manager) => {
      await manager.query('DELETE FROM feature_store.bucket_stats WHERE tenant = $1 AND view = $2 AND view_version = $3', key);
      await manager.query('DELETE FROM feature_store.bucket_values WHERE tenant = $1 AND view = $2 AND view_version = $3', key);
      await manager.query('DELETE FROM feature_store.backfills WHERE tenant = $1 AND view = $2 AND view_version = $3', key);
      await manager.query(`INSERT INTO feature_store.backfills (tenant, view, view_version, status) VALUES ($1, $2, $3, 'running')`, key);
    });
    checkpoint = { status: 'running', lastRecordKey: null, eventsApplied: 0 };
    log.info('feature backfill started');
  } else if (checkpoint.status === 'done') {
    return { view: view.name, viewVersion: view.version, status: 'done', eventsApplied: checkpoint.eventsApplied, pages: 0 };
  } else {
    log.info({ after: checkpoint.lastRecordKey, eventsApplied: checkpoint.eventsApplied }, 'feature backfill resumed');
  }

  let pages = 0;
  let { lastRecordKey, eventsApplied } = checkpoint;
  while (options.maxPages === undefined || pages < options.maxPages) {
    const page: { record_key: string; record: DatasetRecord }[] = await dataSource.query(
      `SELECT record_key, record FROM ingestion.records
        WHERE tenant = $1 AND dataset = $2 AND ($3::text IS NULL OR record_key > $3)
        ORDER BY record_key
        LIMIT $4`,
      [options.tenant, view.source, lastRecordKey, pageSize],
    );
    const finished = page.length < pageSize;
    const nextKey = page.length > 0 ? page[page.length - 1].record_key : lastRecordKey;
    const applied = await dataSource.transaction(async (manager) => {
      const result = await applyRecordsToStore(manager, scope, page.map((row) => row.record));
      await manager.query(
        `UPDATE feature_store.backfills
            SET last_record_key = $4, events_applied = events_applied + $5, status = $6, updated_at = now()
          WHERE tenant = $1 AND view = $2 AND view_version = $3`,
        [...key, nextKey, result.applied, finished ? 'done' : 'running'],
      );
      if (finished) {
        await ledger.append(manager, {
          type: 'features.backfill',
          tenant: options.tenant,
          actor: options.actor,
          payload: { view: view.name, viewVersion: view.version, viewHash: view.definitionHash, eventsApplied: eventsApplied + result.applied },
        });
      }
      return result.applied;
    });
    pages += 1;
    eventsApplied += applied;
    lastRecordKey = nextKey;
    if (finished) {
      log.info({ eventsApplied }, 'feature backfill finished');
      return { view: view.name, viewVersion: view.version, status: 'done', eventsApplied, pages };
    }
  }
  log.info({ eventsApplied, after: lastRecordKey }, 'feature backfill paused at its checkpoint');
  return { view: view.name, viewVersion: view.version, status: 'running', eventsApplied, pages };
}

async function readCheckpoint(
  dataSource: DataSource,
  key: string[],
): Promise<{ status: 'running' | 'done'; lastRecordKey: string | null; eventsApplied: number } | undefined> {
  const rows: { status: 'running' | 'done'; last_record_key: string | null; events_applied: string }[] = await dataSource.query(
    'SELECT status, last_record_key, events_applied FROM feature_store.backfills WHERE tenant = $1 AND view = $2 AND view_version = $3',
    key,
  );
  if (rows.length === 0) return undefined;
  return { status: rows[0].status, lastRecordKey: rows[0].last_record_key, eventsApplied: Number(rows[0].events_applied) };
}
