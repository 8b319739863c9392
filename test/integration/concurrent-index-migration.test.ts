// The dataset retention indexes are built with CREATE INDEX CONCURRENTLY, so a database that
// upgrades keeps accepting ingested events while they build, and an interrupted build is redone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openDatabase, type WardenDatabase } from '../../libs/database/src/index.js';
import { createServerDatabase, databaseTargets, serverSkipReason, type ServerDatabase, type TestDatabase } from '../support/databases.js';
import { loadConfig } from '../../libs/common/src/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MIGRATION = 'DatasetRetentionIndexes1796342402400';
const INDEXES = [
  'ingestion.records_tenant_dataset_ingested',
  'streaming.dead_letters_tenant_time',
  'feature_store.bucket_stats_tenant_view_bucket',
  'feature_store.bucket_values_tenant_view_bucket',
];

/** Returns the database to the state before the migration: its indexes dropped and its row removed. */
async function undoMigration(query: (sql: string, values?: unknown[]) => Promise<unknown>): Promise<void> {
  for (const index of INDEXES) await query(`DROP INDEX ${index}`);
  await query('DELETE FROM warden_migrations WHERE name = $1', [MIGRATION]);
}

/** Returns each of the migration's indexes with whether PostgreSQL may read it. */
async function indexStates(query: (sql: string, values?: unknown[]) => Promise<unknown>): Promise<Record<string, boolean>> {
  const rows = (await query(
    `SELECT n.nspname || '.' || c.relname AS name, i.indisvalid AS valid
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname || '.' || c.relname = ANY($1::text[])`,
    [INDEXES],
  )) as { name: string; valid: boolean }[];
  return Object.fromEntries(rows.map((row) => [row.name, row.valid]));
}

const ALL_VALID = Object.fromEntries(INDEXES.map((index) => [index, true]));

for (const target of await databaseTargets()) {
  describe(`dataset retention index migration on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let reopened: WardenDatabase | undefined;

    before(async () => {
      db = await target.open();
    });
    after(async () => {
      await reopened?.close();
      await db?.cleanup();
    });

    it('rebuilds an index left invalid by an interrupted build', async () => {
      const query = (sql: string, values?: unknown[]) => db.database.dataSource.query(sql, values);
      await undoMigration(query);
      // An interrupted CREATE INDEX CONCURRENTLY leaves an index marked invalid, as here.
      await query('CREATE INDEX records_tenant_dataset_ingested ON ingestion.records (tenant, dataset, ingested_at)');
      await query("UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'ingestion.records_tenant_dataset_ingested'::regclass");
      assert.deepEqual(await indexStates(query), { 'ingestion.records_tenant_dataset_ingested': false });
      await db.database.close();

      reopened = await openDatabase(db.config);
      const reopenedQuery = (sql: string, values?: unknown[]) => reopened!.dataSource.query(sql, values);
      assert.deepEqual(await indexStates(reopenedQuery), ALL_VALID);
      const applied = (await reopenedQuery('SELECT count(*)::int AS n FROM warden_migrations WHERE name = $1', [MIGRATION])) as { n: number }[];
      assert.equal(applied[0].n, 1);
    });
  });
}

describe('dataset retention index migration beside writers', { skip: await serverSkipReason() }, () => {
  let server: ServerDatabase;
  let dataDir: string;
  let upgraded: WardenDatabase | undefined;
  const clients: pg.Client[] = [];

  before(async () => {
    server = await createServerDatabase();
    dataDir = mkdtempSync(join(tmpdir(), 'warden-index-'));
    const first = await openDatabase(testConfig());
    await undoMigration((sql, values) => first.dataSource.query(sql, values));
    await first.close();
  });
  after(async () => {
    for (const client of clients) await client.end().catch(() => undefined);
    await upgraded?.close();
    await server?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function testConfig() {
    return { ...loadConfig({ LOG_LEVEL: 'warn' }), dataDir, databaseUrl: server.url };
  }

  async function client(): Promise<pg.Client> {
    const connected = new pg.Client({ connectionString: server.url });
    await connected.connect();
    clients.push(connected);
    return connected;
  }

  it('lets inserts through while the indexes build', async () => {
    // A writer whose transaction is open when the upgrade starts, as a stream batch would be.
    const writer = await client();
    await writer.query('BEGIN');
    await writer.query('LOCK TABLE ingestion.records IN ROW EXCLUSIVE MODE');

    const upgrade = openDatabase(testConfig());
    // Awaited below; this only keeps a failed upgrade from also surfacing as an unhandled rejection.
    upgrade.catch(() => undefined);
    const watcher = await client();
    let waiting = false;
    for (let attempt = 0; attempt < 200 && !waiting; attempt++) {
      const { rows } = await watcher.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'CREATE INDEX%records_tenant_dataset_ingested%' AND wait_event_type IS NOT NULL",
      );
      waiting = rows.length > 0;
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(waiting, 'the index build waits for the open writer');

    // A second writer arrives during the build. Behind a plain CREATE INDEX its insert would queue
    // until the first writer ends, and the lock timeout would end it.
    const second = await client();
    await second.query("SET lock_timeout = '3s'");
    await second.query('BEGIN');
    await second.query(
      `INSERT INTO ingestion.records (tenant, dataset, record_key, dataset_version, record, record_digest, batch_id)
       VALUES ('bank-a', 'paysim-transactions', 'k1', 'v1', '{}', repeat('0', 64), gen_random_uuid())`,
    );
    await second.query('ROLLBACK');

    await writer.query('COMMIT');
    upgraded = await upgrade;
    assert.deepEqual(await indexStates((sql, values) => upgraded!.dataSource.query(sql, values)), ALL_VALID);
  });
});
