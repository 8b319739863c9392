import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import { runBackfill, type FeatureVector } from '../../libs/feature-store/src/index.js';
import type { StreamBatchProcessor } from '../../libs/streaming/src/index.js';
import { databaseTargets, sharedDataPath, type TestDatabase } from '../support/databases.js';
import { asMessages, createProcessor, createStreamServices, readPaysimRows, transaction, type StreamServices } from '../support/stream-fixtures.js';

const paysim = sharedDataPath('tabular/paysim_fraud_sample/paysim_sample.csv');
const T0 = Date.parse('2026-03-01T00:00:00Z');
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** Events of recipient D1 whose windows the tests check by hand. */
const D1_EVENTS = [
  transaction('FS-1', at(10), 'D1', 'A', 100),
  transaction('FS-2', at(50), 'D1', 'B', 50.25),
  transaction('FS-3', at(90), 'D1', 'A', 200),
  transaction('FS-4', at(20 * 60), 'D1', 'C', 10),
  transaction('FS-5', at(-48 * 60), 'D1', 'D', 1000),
  transaction('FS-6', at(-40 * 24 * 60), 'D1', 'E', 5),
  transaction('FS-7', at(30), 'D2', 'A', 7),
];

async function bucketSnapshot(dataSource: DataSource, tenant: string, view: string): Promise<unknown[]> {
  const stats = await dataSource.query(
    `SELECT entity_key, bucket_start, field, event_count::text, value_sum::text, value_min::text, value_max::text
       FROM feature_store.bucket_stats WHERE tenant = $1 AND view = $2
      ORDER BY entity_key, bucket_start, field`,
    [tenant, view],
  );
  const values = await dataSource.query(
    `SELECT entity_key, bucket_start, field, value FROM feature_store.bucket_values WHERE tenant = $1 AND view = $2
      ORDER BY entity_key, field, bucket_start, value`,
    [tenant, view],
  );
  return [stats, values];
}

for (const target of await databaseTargets()) {
  describe(`feature store on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    let services: StreamServices;
    let processor: StreamBatchProcessor;
    const tenant = 'bank-fs';

    before(async () => {
      db = await target.open();
      dataSource = db.database.dataSource;
      services = await createStreamServices(dataSource);
      processor = createProcessor(dataSource, services, tenant);
      const summary = await processor.process(asMessages(D1_EVENTS));
      assert.equal(summary.accepted, D1_EVENTS.length);
    });

    after(async () => {
      await db?.cleanup();
    });

    const read = (entityKey: string, asOfMinutes: number, amount?: number): Promise<FeatureVector> =>
      services.features.getOnlineFeatures({ tenant, view: 'payee-activity', entityKey, asOf: new Date(at(asOfMinutes)), inputs: { amount: amount ?? null } });

    it('counts events by the required amount', () => {
      assert.equal(services.features.getView('payee-activity').countField, 'amount');
    });

    it('computes every window as of a time', async () => {
      const vector = await read('D1', 21 * 60 + 15, 544.1);
      assert.equal(vector.windowEnd, at(21 * 60));
      assert.equal(vector.viewVersion, '1');
      assert.match(vector.viewHash, /^[0-9a-f]{64}$/);
      assert.equal(vector.values.tx_count_1h, 1);
      assert.equal(vector.values.tx_count_24h, 4);
      assert.equal(vector.values.amount_sum_24h, 360.25);
      assert.equal(vector.values.sender_distinct_24h, 3);
      assert.equal(vector.values.amount_mean_30d, 272.05);
      assert.equal(vector.values.amount_max_30d, 1000);
      assert.equal(vector.values.mean_amount_24h, 90.0625);
      assert.ok(Math.abs((vector.values.amount_to_mean_30d as number) - 2) < 1e-12);
    });

    it('reads inside a caller transaction', async () => {
      const request = { tenant, view: 'payee-activity', entityKey: 'D1', asOf: new Date(at(21 * 60)) };
      const inside = await dataSource.transaction((manager) => services.features.getOnlineFeatures(request, manager));
      assert.equal(inside.values.tx_count_24h, 4);
      assert.deepEqual(inside, await services.features.getOnlineFeatures(request));
    });

    it('leaves out events of the open bucket', async () => {
      const vector = await read('D1', 50);
      assert.equal(vector.windowEnd, at(0));
      assert.equal(vector.values.tx_count_1h, 0);
      assert.equal(vector.values.tx_count_24h, 0);
      assert.equal(vector.values.amount_mean_30d, 1000);
      assert.equal(vector.values.amount_to_mean_30d, null);
      assert.equal(vector.values.mean_amount_24h, null);
    });

    it('returns zero counts for an unknown entity', async () => {
      const vector = await read('NOBODY', 60);
      assert.equal(vector.values.tx_count_24h, 0);
      assert.equal(vector.values.amount_sum_24h, 0);
      assert.equal(vector.values.amount_mean_30d, null);
      assert.equal(vector.values.sender_distinct_24h, 0);
    });

    it('ignores redelivered events', async () => {
      const before = await read('D1', 21 * 60);
      const summary = await processor.process(asMessages(D1_EVENTS));
      assert.equal(summary.accepted, 0);
      assert.equal(summary.duplicates, D1_EVENTS.length);
      assert.deepEqual((await read('D1', 21 * 60)).values, before.values);
    });

    it('updates features on file and API ingestion', async () => {
      services.ingestion.useStoredRecordsListener(services.features);
      const records = [transaction('API-1', at(10), 'D-API', 'A', 40), transaction('API-2', at(20), 'D-API', 'B', 60)];
      const first = await services.ingestion.ingest({ tenant, actor: 'test', dataset: 'paysim-transactions', records, source: 'api' });
      assert.equal(first.accepted, 2);
      const again = await services.ingestion.ingest({ tenant, actor: 'test', dataset: 'paysim-transactions', records, source: 'api' });
      assert.equal(again.duplicates, 2);
      const vector = await read('D-API', 60);
      assert.equal(vector.values.tx_count_1h, 2);
      assert.equal(vector.values.amount_sum_24h, 100);
      assert.equal(vector.values.sender_distinct_24h, 2);
    });

    it('uses only events before the label time', async () => {
      const set = await services.features.buildTrainingSet({
        tenant,
        actor: 'test',
        view: 'payee-activity',
        labels: [
          { entityKey: 'D1', asOf: new Date(at(60)), label: 0, inputs: { amount: 75 } },
          { entityKey: 'D1', asOf: new Date(at(20 * 60)), label: 1, inputs: { amount: 10 } },
        ],
      });
      const [between, atEvent] = set.rows;
      // Between FS-2 (00:50) and FS-3 (01:30): FS-3 and FS-4 are stored but later, so left out.
      assert.equal(between.values.tx_count_1h, 2);
      assert.equal(between.values.tx_count_24h, 2);
      assert.equal(between.values.amount_sum_24h, 150.25);
      assert.equal(between.values.sender_distinct_24h, 2);
      assert.equal(between.label, 0);
      // At FS-4's own time: FS-4 is not before the label, so it is left out.
      assert.equal(atEvent.values.tx_count_1h, 0);
      assert.equal(atEvent.values.tx_count_24h, 3);
      assert.equal(atEvent.values.amount_max_30d, 1000);
      assert.match(set.dataDigest, /^[0-9a-f]{64}$/);
    });

    it('matches online reads in the training set', async () => {
      const points = [
        { entityKey: 'D1', minutes: 21 * 60 + 15, amount: 544.1 },
        { entityKey: 'D1', minutes: 60, amount: 12 },
        { entityKey: 'D2', minutes: 120, amount: 3 },
      ];
      const set = await services.features.buildTrainingSet({
        tenant,
        actor: 'test',
        view: 'payee-activity',
        labels: points.map((point) => ({ entityKey: point.entityKey, asOf: new Date(at(point.minutes)), label: null, inputs: { amount: point.amount } })),
      });
      for (const [index, point] of points.entries()) {
        const online = await read(point.entityKey, point.minutes, point.amount);
        assert.deepEqual(set.rows[index].values, online.values, `${point.entityKey} at ${point.minutes} minutes`);
        assert.equal(set.rows[index].windowEnd, online.windowEnd);
      }
    });

    it('recomputes the same store by backfill', async () => {
      const incremental = await bucketSnapshot(dataSource, tenant, 'payee-activity');
      const view = services.features.getView('payee-activity');

      const paused = await runBackfill(dataSource, services.ledger, view, { tenant, actor: 'test', pageSize: 3, maxPages: 1 });
      assert.equal(paused.status, 'running');
      assert.equal(paused.eventsApplied, 3);
      assert.notDeepEqual(await bucketSnapshot(dataSource, tenant, 'payee-activity'), incremental);

      const resumed = await runBackfill(dataSource, services.ledger, view, { tenant, actor: 'test', pageSize: 3 });
      assert.equal(resumed.status, 'done');
      const stored: { n: number }[] = await dataSource.query("SELECT count(*)::int AS n FROM ingestion.records WHERE tenant = $1 AND dataset = 'paysim-transactions'", [tenant]);
      assert.equal(resumed.eventsApplied, stored[0].n);
      assert.equal(stored[0].n, D1_EVENTS.length + 2);
      assert.deepEqual(await bucketSnapshot(dataSource, tenant, 'payee-activity'), incremental);

      const again = await runBackfill(dataSource, services.ledger, view, { tenant, actor: 'test' });
      assert.equal(again.pages, 0);
      const entries: { n: number }[] = await dataSource.query("SELECT count(*)::int AS n FROM audit.ledger_entries WHERE type = 'features.backfill'");
      assert.equal(entries[0].n, 1);
    });

    it('counts events stored during a backfill once', async () => {
      const view = services.features.getView('payee-activity');
      const paused = await runBackfill(dataSource, services.ledger, view, { tenant, actor: 'test', pageSize: 3, maxPages: 1, restart: true });
      assert.equal(paused.status, 'running');

      // One key sorts before the backfill's checkpoint, so ingestion applies it; one sorts after, so the backfill does.
      const live = [transaction('A-early', at(95), 'D1', 'F', 3), transaction('ZZ-late', at(96), 'D1', 'G', 4)];
      const summary = await processor.process(asMessages(live));
      assert.equal(summary.accepted, 2);

      const resumed = await runBackfill(dataSource, services.ledger, view, { tenant, actor: 'test', pageSize: 3 });
      assert.equal(resumed.status, 'done');
      const withLiveEvents = await bucketSnapshot(dataSource, tenant, 'payee-activity');

      const rebuilt = await runBackfill(dataSource, services.ledger, view, { tenant, actor: 'test', restart: true });
      assert.equal(rebuilt.status, 'done');
      assert.deepEqual(withLiveEvents, await bucketSnapshot(dataSource, tenant, 'payee-activity'));
    });

    it('serves PaySim features online as offline', { skip: paysim.skipReason }, async () => {
      const paysimTenant = 'bank-paysim';
      const paysimProcessor = createProcessor(dataSource, services, paysimTenant);
      const rows = readPaysimRows(paysim.path, services.definition);
      const counts = new Map<string, number>();
      for (const row of rows) counts.set(row.name_dest, (counts.get(row.name_dest) ?? 0) + 1);
      const selected = rows.filter((row) => (counts.get(row.name_dest) ?? 0) >= 4).sort((a, b) => Number(a.step) - Number(b.step));
      assert.ok(selected.length > 1000, `expected over 1000 rows of repeated recipients, got ${selected.length}`);

      // Read each event's features just before its step is ingested, as a decision would.
      const online: FeatureVector[] = [];
      const steps = [...new Set(selected.map((row) => Number(row.step)))];
      for (const step of steps) {
        const stepRows = selected.filter((row) => Number(row.step) === step);
        for (const row of stepRows) {
          online.push(
            await services.features.getOnlineFeatures({
              tenant: paysimTenant,
              view: 'payee-activity',
              entityKey: row.name_dest,
              asOf: new Date(row.event_time),
              inputs: { amount: Number(row.amount) },
            }),
          );
        }
        const summary = await paysimProcessor.process(asMessages(stepRows));
        assert.equal(summary.accepted + summary.quarantined, stepRows.length);
      }

      const set = await services.features.buildTrainingSet({
        tenant: paysimTenant,
        actor: 'test',
        view: 'payee-activity',
        labels: selected.map((row) => ({ entityKey: row.name_dest, asOf: new Date(row.event_time), label: Number(row.is_fraud), inputs: { amount: Number(row.amount) } })),
      });
      assert.equal(set.rows.length, online.length);
      let withHistory = 0;
      for (const [index, row] of set.rows.entries()) {
        assert.deepEqual(row.values, online[index].values, `row ${index} (${row.entityKey} at ${row.asOf})`);
        if ((row.values.tx_count_24h ?? 0) > 0) withHistory += 1;
      }
      assert.ok(withHistory > 100, `expected over 100 rows with earlier events in 24 hours, got ${withHistory}`);
    });
  });
}
