import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { loadRetentionPolicy, parseRetentionPolicy, RetentionService, verifyLedger, type DatasetPurgeResult, type PurgeResult } from '../../libs/audit/src/index.js';
import { datasetLinks, loadUseCases } from '../../libs/decisions/src/index.js';
import { openDatabase } from '../../libs/database/src/index.js';
import { subjectOf } from '../../libs/streaming/src/index.js';
import { cliEnvironment, runCli } from '../support/cli.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { asMessages, createProcessor, createRetention, createStreamServices, PAYSIM, POLICY_DIR, transaction, type StreamServices } from '../support/stream-fixtures.js';

const POLICY = parseRetentionPolicy(`
version: 1
rules: {}
datasets:
  paysim-transactions: { minimumMonths: 60, purgeAfterMonths: 61, source: 31 CFR 1010.430(d) }
`);
/** The service's clock: 61 months later the cutoff is 2026-05-15. */
const NOW = new Date('2031-06-15T00:00:00.000Z');
const CUTOFF = '2026-05-15T00:00:00.000Z';
/** Ingestion time and event time of the old rows, before the cutoff here and before the shipped rule's cutoff at the real time. */
const OLD = '2020-03-10T10:00:00.000Z';
/** Event time of the new rows; they are ingested at the real time, after the cutoff. */
const RECENT = '2026-11-20T10:00:00.000Z';
/** bank-a: no hold. bank-b: hold on payment-fraud. bank-c: hold on credit-application only. bank-d: hold on every use case. */
const TENANTS = ['bank-a', 'bank-b', 'bank-c', 'bank-d'];
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

/** Seeds, per tenant, two old and one new record, an old and a new quarantined event, and old and new dead letters. */
async function seed(dataSource: DataSource, services: StreamServices, tenants: readonly string[]): Promise<void> {
  for (const tenant of tenants) {
    const processor = createProcessor(dataSource, services, tenant);
    await processor.process(
      asMessages([
        transaction('OLD-1', OLD, 'D1', 'A1', 100),
        transaction('OLD-2', OLD, 'D2', 'A1', 50),
        transaction('NEW-1', RECENT, 'D1', 'A2', 70),
        // A negative amount breaks the range rule, so these two go to the quarantine.
        transaction('OLD-Q', OLD, 'D1', 'A1', -5),
        transaction('NEW-Q', RECENT, 'D1', 'A1', -5),
      ]),
    );
    const [oldLetter, newLetter] = asMessages([transaction('OLD-D', OLD, 'D9', 'A9', 1), transaction('NEW-D', RECENT, 'D9', 'A9', 1)]);
    await processor.deadLetter(oldLetter, 'failed five deliveries');
    await processor.deadLetter(newLetter, 'failed five deliveries');
    // A dead letter of another dataset, which the paysim-transactions rule must not touch.
    const [otherLetter] = asMessages([{ application_id: 'OLD-G' }]);
    await processor.deadLetter({ ...otherLetter, subject: subjectOf('german-credit') }, 'failed five deliveries');
  }
  await dataSource.query("UPDATE ingestion.records SET ingested_at = $1 WHERE record_key LIKE 'OLD-%'", [OLD]);
  await dataSource.query("UPDATE ingestion.quarantine SET created_at = $1 WHERE record_key LIKE 'OLD-%'", [OLD]);
  await dataSource.query("UPDATE streaming.dead_letters SET created_at = $1 WHERE event_key LIKE 'OLD-%' OR subject = $2", [OLD, subjectOf('german-credit')]);
}

/** Reads the tenant's rows of every table the dataset rule covers, one line per row. */
async function snapshot(dataSource: DataSource, tenant: string): Promise<Record<string, string[]>> {
  const lines = async (sql: string): Promise<string[]> => ((await dataSource.query(sql, [tenant])) as { line: string }[]).map((row) => row.line).sort();
  const bucket = `view || ' ' || entity_key || ' ' || field || ' ' || to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI')`;
  return {
    records: await lines("SELECT record_key AS line FROM ingestion.records WHERE tenant = $1"),
    quarantine: await lines("SELECT record_key AS line FROM ingestion.quarantine WHERE tenant = $1"),
    deadLetters: await lines("SELECT subject || ' ' || coalesce(event_key, '-') AS line FROM streaming.dead_letters WHERE tenant = $1"),
    bucketStats: await lines(`SELECT ${bucket} AS line FROM feature_store.bucket_stats WHERE tenant = $1`),
    bucketValues: await lines(`SELECT ${bucket} || ' ' || value AS line FROM feature_store.bucket_values WHERE tenant = $1`),
  };
}

/** Returns the snapshot without the rows of the old events, which is what the purge must leave. */
function withoutOld(rows: Record<string, string[]>): Record<string, string[]> {
  const oldBucket = OLD.slice(0, 16);
  return {
    records: rows.records.filter((line) => !line.startsWith('OLD-')),
    quarantine: rows.quarantine.filter((line) => !line.startsWith('OLD-')),
    deadLetters: rows.deadLetters.filter((line) => !line.startsWith(`${subjectOf(PAYSIM)} OLD-`)),
    bucketStats: rows.bucketStats.filter((line) => !line.endsWith(oldBucket)),
    bucketValues: rows.bucketValues.filter((line) => !line.includes(` ${oldBucket} `)),
  };
}

function datasetResult(results: (PurgeResult | DatasetPurgeResult)[]): DatasetPurgeResult {
  const found = results.find((result): result is DatasetPurgeResult => 'dataset' in result && result.dataset === PAYSIM);
  assert.ok(found, 'the purge returns a result for paysim-transactions');
  return found;
}

for (const target of await databaseTargets()) {
  describe(`dataset retention on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    let services: StreamServices;
    let retention: RetentionService;
    const seeded: Record<string, Record<string, string[]>> = {};

    before(async () => {
      db = await target.open();
      dataSource = db.database.dataSource;
      services = await createStreamServices(dataSource);
      retention = createRetention(dataSource, services, POLICY, NOW);
      await seed(dataSource, services, TENANTS);
      for (const tenant of TENANTS) seeded[tenant] = await snapshot(dataSource, tenant);
      await retention.placeHold({ tenant: 'bank-b', useCase: 'payment-fraud', reason: 'AML investigation of account A1', actor: 'counsel' });
      await retention.placeHold({ tenant: 'bank-c', useCase: 'credit-application', reason: 'credit dispute of applicant 17', actor: 'counsel' });
      await retention.placeHold({ tenant: 'bank-d', useCase: null, reason: 'regulator inquiry on every record', actor: 'counsel' });
    });
    after(async () => {
      await db?.cleanup();
    });

    it('seeds old and new rows in every table', () => {
      const rows = seeded['bank-a'];
      assert.deepEqual(rows.records, ['NEW-1', 'OLD-1', 'OLD-2']);
      assert.deepEqual(rows.quarantine, ['NEW-Q', 'OLD-Q']);
      assert.equal(rows.deadLetters.length, 3);
      assert.ok(rows.bucketStats.some((line) => line.endsWith(OLD.slice(0, 16))), 'old buckets exist');
      assert.ok(rows.bucketValues.some((line) => line.includes(` ${OLD.slice(0, 16)} `)), 'old distinct values exist');
      assert.notDeepEqual(withoutOld(rows).bucketStats, rows.bucketStats);
    });

    it('previews due and held rows in a dry run', async () => {
      const result = datasetResult(await retention.purge({ actor: 'test', dryRun: true }));
      const oldRows = (tenant: string): number => {
        const all = seeded[tenant];
        const kept = withoutOld(all);
        return Object.keys(all).reduce((sum, table) => sum + all[table].length - kept[table].length, 0);
      };
      assert.equal(result.cutoff, CUTOFF);
      assert.equal(result.source, '31 CFR 1010.430(d)');
      assert.deepEqual(result.heldTenants, ['bank-b', 'bank-d']);
      assert.equal(result.due, oldRows('bank-a') + oldRows('bank-c'));
      assert.equal(result.held, oldRows('bank-b') + oldRows('bank-d'));
      assert.equal(result.dueRows.records, 4);
      assert.equal(result.dueRows.quarantine, 2);
      assert.equal(result.dueRows.deadLetters, 2);
      assert.equal(result.purged, 0);
      assert.equal(result.ledgerSeq, null);
      for (const tenant of TENANTS) assert.deepEqual(await snapshot(dataSource, tenant), seeded[tenant]);
    });

    it('deletes exactly the rows past the cutoff', async () => {
      const result = datasetResult(await retention.purge({ actor: 'retention-job' }));
      assert.equal(result.purged, result.due);
      assert.deepEqual(result.purgedRows, result.dueRows);
      assert.ok(result.ledgerSeq !== null);
      for (const tenant of ['bank-a', 'bank-c']) {
        assert.deepEqual(await snapshot(dataSource, tenant), withoutOld(seeded[tenant]), tenant);
      }
    });

    it('keeps tenants under a linked or tenant-wide hold', async () => {
      assert.deepEqual(await snapshot(dataSource, 'bank-b'), seeded['bank-b']);
      assert.deepEqual(await snapshot(dataSource, 'bank-d'), seeded['bank-d']);
    });

    it('writes one ledger entry per tenant with counts', async () => {
      const entries: { tenant: string; actor: string; payload: Record<string, unknown> }[] = await dataSource.query(
        "SELECT tenant, actor, payload FROM audit.ledger_entries WHERE type = 'retention.dataset-purged' ORDER BY seq",
      );
      assert.deepEqual(entries.map((entry) => entry.tenant), ['bank-a', 'bank-c']);
      for (const entry of entries) {
        const all = seeded[entry.tenant];
        const kept = withoutOld(all);
        assert.equal(entry.actor, 'retention-job');
        assert.equal(entry.payload.dataset, PAYSIM);
        assert.equal(entry.payload.rule, '31 CFR 1010.430(d)');
        assert.equal(entry.payload.cutoff, CUTOFF);
        assert.equal(entry.payload.purgedAt, NOW.toISOString());
        assert.equal(entry.payload.retentionPolicyHash, POLICY.hash);
        for (const table of Object.keys(all)) {
          assert.equal(entry.payload[table], all[table].length - kept[table].length, `${entry.tenant} ${table}`);
        }
      }
      assert.equal((await verifyLedger(dataSource)).ok, true);
    });

    it('finds nothing due on a second run', async () => {
      const result = datasetResult(await retention.purge({ actor: 'retention-job' }));
      assert.equal(result.due, 0);
      assert.equal(result.purged, 0);
      assert.equal(result.ledgerSeq, null);
    });

    it('purges a held tenant after release', async () => {
      const [hold] = (await retention.listHolds()).filter((candidate) => candidate.tenant === 'bank-b');
      await retention.releaseHold({ id: hold.id, reason: 'AML investigation closed by the regulator', actor: 'counsel' });
      const result = datasetResult(await retention.purge({ actor: 'retention-job' }));
      assert.deepEqual(result.heldTenants, ['bank-d']);
      assert.ok(result.purged > 0);
      assert.deepEqual(await snapshot(dataSource, 'bank-b'), withoutOld(seeded['bank-b']));
      assert.deepEqual(await snapshot(dataSource, 'bank-d'), seeded['bank-d']);
    });

    it('purges a backlog in batches', async () => {
      const batchId = randomUUID();
      await dataSource.transaction(async (manager) => {
        await manager.query(
          `INSERT INTO ingestion.batches (id, tenant, dataset, dataset_version, source, accepted, quarantined, duplicates, definition_hash, actor)
           SELECT $1, 'bank-e', name, version, 'backlog', 2500, 0, 0, definition_hash, 'test' FROM ingestion.datasets WHERE name = $2`,
          [batchId, PAYSIM],
        );
        await manager.query(
          `INSERT INTO ingestion.records (tenant, dataset, record_key, dataset_version, record, record_digest, batch_id, ingested_at)
           SELECT 'bank-e', $2, 'BACKLOG-' || i, '1', '{}'::jsonb, repeat('0', 64), $1, $3 FROM generate_series(1, 2500) AS i`,
          [batchId, PAYSIM, OLD],
        );
      });
      const result = datasetResult(await retention.purge({ actor: 'retention-job' }));
      assert.equal(result.purgedRows.records, 2500);
      const entries: { records: number }[] = await dataSource.query(
        "SELECT (payload->>'records')::int AS records FROM audit.ledger_entries WHERE type = 'retention.dataset-purged' AND tenant = 'bank-e' ORDER BY seq",
      );
      assert.deepEqual(entries.map((entry) => entry.records), [1000, 1000, 500]);
      const [{ n }]: { n: number }[] = await dataSource.query("SELECT count(*)::int AS n FROM ingestion.records WHERE tenant = 'bank-e'");
      assert.equal(n, 0);
    });
  });

  describe(`retention purge cli with datasets on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;

    before(async () => {
      db = await target.open();
      const services = await createStreamServices(db.database.dataSource);
      await seed(db.database.dataSource, services, ['bank-a']);
      // The CLI opens the database itself, and embedded PGlite allows one process at a time.
      await db.database.close();
    });
    after(async () => {
      await db?.cleanup();
    });

    it('prints the rows purged per table', async () => {
      const env = cliEnvironment({ WARDEN_DATA_DIR: db.config.dataDir, DATABASE_URL: db.config.databaseUrl, LOG_LEVEL: 'silent' });
      const result = await runCli(['retention', 'purge'], env);
      assert.equal(result.code, 0, result.stderr);
      const output = JSON.parse(result.stdout) as { dryRun: boolean; rules: DatasetPurgeResult[] };
      const paysim = output.rules.find((rule) => rule.dataset === PAYSIM);
      assert.ok(paysim, result.stdout);
      assert.deepEqual(paysim.purgedRows, { records: 2, quarantine: 1, deadLetters: 1, bucketStats: paysim.purgedRows.bucketStats, bucketValues: paysim.purgedRows.bucketValues });
      assert.ok(paysim.purgedRows.bucketStats > 0);
      assert.ok(paysim.purgedRows.bucketValues > 0);
      assert.equal(paysim.source, loadRetentionPolicy(POLICY_DIR).datasets?.find((rule) => rule.dataset === PAYSIM)?.source);

      const reopened = await openDatabase(db.config);
      try {
        const [{ n }]: { n: number }[] = await reopened.dataSource.query("SELECT count(*)::int AS n FROM ingestion.records WHERE record_key LIKE 'OLD-%'");
        assert.equal(n, 0);
      } finally {
        await reopened.close();
      }
    });
  });
}

describe('datasetLinks', () => {
  it('links datasets to use cases and views', () => {
    const views = new Map([
      ['customer-activity', { source: PAYSIM, maxWindowMs: 7 * DAY_MS, bucketMs: HOUR_MS }],
      ['payee-activity', { source: PAYSIM, maxWindowMs: 30 * DAY_MS, bucketMs: HOUR_MS }],
    ]);
    const useCases = loadUseCases(POLICY_DIR);
    assert.deepEqual(datasetLinks(PAYSIM, useCases, views), { useCases: ['payment-fraud'], maxWindowMs: 30 * DAY_MS, maxBucketMs: HOUR_MS });
    assert.deepEqual(datasetLinks('german-credit', useCases, views), { useCases: ['credit-application'], maxWindowMs: 0, maxBucketMs: 0 });
  });
});

for (const target of await databaseTargets()) {
  describe(`dataset retention of feature buckets on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    let services: StreamServices;

    before(async () => {
      db = await target.open();
      dataSource = db.database.dataSource;
      services = await createStreamServices(dataSource);
    });
    after(async () => {
      await db?.cleanup();
    });

    it('keeps buckets a retained decision reads', async () => {
      // A payment-fraud decision made just after the cutoff reads its payee's last 30 days from the start
      // of its hour bucket, so the buckets of that window stay until the decision itself is purged.
      const useCases = loadUseCases(POLICY_DIR);
      const links = datasetLinks(PAYSIM, useCases, services.features.views);
      assert.equal(links.maxWindowMs, 30 * DAY_MS, 'payee-activity has a 30-day window');
      const retention = new RetentionService(dataSource, services.ledger, POLICY, () => [...useCases.keys()], () => NOW, () => links);
      const inWindow = '2026-05-01T10:00:00.000Z';
      const beforeWindow = '2026-04-01T10:00:00.000Z';
      await createProcessor(dataSource, services, 'bank-e').process(
        asMessages([transaction('IN-WINDOW', inWindow, 'D5', 'A5', 40), transaction('BEFORE-WINDOW', beforeWindow, 'D5', 'A6', 60)]),
      );
      await dataSource.query("UPDATE ingestion.records SET ingested_at = $1 WHERE tenant = 'bank-e'", [OLD]);

      const result = datasetResult(await retention.purge({ actor: 'retention-job' }));
      assert.equal(result.cutoff, CUTOFF);
      assert.equal(result.bucketCutoff, '2026-04-14T23:00:00.000Z');
      const records: { record_key: string }[] = await dataSource.query("SELECT record_key FROM ingestion.records WHERE tenant = 'bank-e'");
      assert.deepEqual(records, [], 'both records were ingested before the cutoff');
      const buckets: { start: string }[] = await dataSource.query(
        `SELECT DISTINCT to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS start FROM feature_store.bucket_stats WHERE tenant = 'bank-e' ORDER BY 1`,
      );
      assert.deepEqual(buckets.map((bucket) => bucket.start), [inWindow.slice(0, 16)]);
      const values: { start: string }[] = await dataSource.query(
        `SELECT DISTINCT to_char(bucket_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS start FROM feature_store.bucket_values WHERE tenant = 'bank-e' ORDER BY 1`,
      );
      assert.deepEqual(values.map((bucket) => bucket.start), [inWindow.slice(0, 16)]);
      const [entry]: { payload: Record<string, unknown> }[] = await dataSource.query(
        "SELECT payload FROM audit.ledger_entries WHERE type = 'retention.dataset-purged' AND tenant = 'bank-e'",
      );
      assert.equal(entry.payload.bucketCutoff, '2026-04-14T23:00:00.000Z');
    });
  });
}
