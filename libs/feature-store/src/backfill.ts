import type { DataSource, EntityManager } from 'typeorm';
import type { LedgerAppender } from '../../audit/src/index.js';
import { getLogger } from '../../common/src/index.js';
import type { DatasetRecord } from '../../ingestion/src/index.js';
import type { FeatureView } from './feature-view.js';
import { applyRecordsToStore } from './online-store.js';

type Queryable = Pick<EntityManager, 'query'>;

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
 *
 * Ingestion may go on meanwhile. Each page transaction takes the view's backfill lock exclusively
 * and reads its page inside it, while live ingestion takes the lock shared and leaves records
 * whose key sorts after the checkpoint to the backfill (see recordsLeftToBackfill). So each stored
 * record is counted exactly once, whichever side reads it first.
 */
export async function runBackfill(dataSource: DataSource, ledger: LedgerAppender, view: FeatureView, options: BackfillOptions): Promise<BackfillResult> {
  const log = getLogger('feature-backfill').child({ view: view.name, viewVersion: view.version, tenant: options.tenant });
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const scope = { tenant: options.tenant, view };
  const key = [options.tenant, view.name, view.version];

  let checkpoint = await readCheckpoint(dataSource, key);
  if (!checkpoint || options.restart) {
    await dataSource.transaction(async (manager) => {
      await lockBackfill(manager, key, 'exclusive');
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
    const { applied, finished, nextKey } = await dataSource.transaction(async (manager) => {
      // The page is read after the lock, so it includes every record that live ingestion skipped
      // because its key sorted after the checkpoint.
      await lockBackfill(manager, key, 'exclusive');
      const page: { record_key: string; record: DatasetRecord }[] = await manager.query(
        `SELECT record_key, record FROM ingestion.records
          WHERE tenant = $1 AND dataset = $2 AND ($3::text IS NULL OR record_key > $3)
          ORDER BY record_key
          LIMIT $4`,
        [options.tenant, view.source, lastRecordKey, pageSize],
      );
      const finished = page.length < pageSize;
      const nextKey = page.length > 0 ? page[page.length - 1].record_key : lastRecordKey;
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
      return { applied: result.applied, finished, nextKey };
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

/** Advisory lock class of feature backfills; the second key is hashtext of tenant, view and version. */
const BACKFILL_LOCK_CLASS = 0x46_42_4b; // "FBK"

async function lockBackfill(manager: Queryable, key: string[], mode: 'shared' | 'exclusive'): Promise<void> {
  const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
  await manager.query(`SELECT ${lock}($1, hashtext($2 || '/' || $3 || '/' || $4))::text AS locked`, [BACKFILL_LOCK_CLASS, ...key]);
}

/**
 * Takes the view's backfill lock shared for the caller's transaction and returns the given record
 * keys that a running backfill of the view version will still apply itself: those after its
 * checkpoint. Live ingestion leaves them out, so that no record is counted twice. The comparison
 * runs in the database, in the same collation as the backfill's ORDER BY record_key.
 */
export async function recordsLeftToBackfill(manager: Queryable, tenant: string, view: FeatureView, recordKeys: readonly string[]): Promise<Set<string>> {
  const key = [tenant, view.name, view.version];
  await lockBackfill(manager, key, 'shared');
  const rows: { pending: string[] }[] = await manager.query(
    `SELECT ARRAY(SELECT k FROM unnest($4::text[]) AS k WHERE b.last_record_key IS NULL OR k > b.last_record_key) AS pending
       FROM feature_store.backfills b
      WHERE b.tenant = $1 AND b.view = $2 AND b.view_version = $3 AND b.status = 'running'`,
    [...key, recordKeys],
  );
  return new Set(rows[0]?.pending ?? []);
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
