// The dataset purge must leave every feature read of a decision that is still kept unchanged: the
// online read from the buckets and the replay's recomputation from the records. It must also keep
// to its own dataset when a view name had another source in an earlier version.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource } from 'typeorm';
import { parseRetentionPolicy, RetentionService, type DatasetPurgeResult, type PurgeResult } from '../../libs/audit/src/index.js';
import { datasetLinks, loadUseCases } from '../../libs/decisions/src/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { asMessages, createProcessor, createStreamServices, PAYSIM, POLICY_DIR, transaction, type StreamServices } from '../support/stream-fixtures.js';

const POLICY = parseRetentionPolicy(`
version: 1
rules:
  payment-fraud: { minimumMonths: 60, purgeAfterMonths: 61, source: 31 CFR 1010.430(d) }
datasets:
  paysim-transactions: { minimumMonths: 60, purgeAfterMonths: 61, source: 31 CFR 1010.430(d) }
  german-credit: { minimumMonths: 25, purgeAfterMonths: 26, source: 12 CFR 1002.12(b)(1) }
`);
/** 61 months earlier is 2026-05-15T00:30Z, half an hour past a bucket edge. */
const NOW = new Date('2031-06-15T00:30:00.000Z');
/** A decision kept just after the cutoff, whose 30-day window starts in the bucket of 2026-04-15T00:00Z. */
const KEPT_DECISION_TIME = new Date('2026-05-15T00:40:00.000Z');
/** A later kept decision whose window covers an event five days before the cutoff. */
const LATER_DECISION_TIME = new Date('2026-05-20T00:00:00.000Z');

function datasetResult(results: (PurgeResult | DatasetPurgeResult)[], dataset: string): DatasetPurgeResult {
  const found = results.find((result): result is DatasetPurgeResult => 'dataset' in result && result.dataset === dataset);
  assert.ok(found, `the purge returns a result for ${dataset}`);
  return found;
}

for (const target of await databaseTargets()) {
  describe(`dataset purge and kept decisions' reads on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    let services: StreamServices;
    let retention: RetentionService;
    let onlineBefore: unknown;
    let replayBefore: unknown;
    let otherSourceBuckets: number;

    const onlineRead = () => services.features.getOnlineFeatures({ tenant: 't1', view: 'payee-activity', entityKey: 'P1', asOf: KEPT_DECISION_TIME });
    const replayRead = () => services.features.computePointInTime('t2', 'payee-activity', [{ entityKey: 'P2', asOf: LATER_DECISION_TIME, label: null }]);
    const bucketCount = async (tenant: string): Promise<number> =>
      ((await dataSource.query('SELECT count(*)::int AS n FROM feature_store.bucket_stats WHERE tenant = $1', [tenant])) as { n: number }[])[0].n;

    before(async () => {
      db = await target.open();
      dataSource = db.database.dataSource;
      services = await createStreamServices(dataSource);
      const useCases = loadUseCases(POLICY_DIR);
      retention = new RetentionService(dataSource, services.ledger, POLICY, () => [...useCases.keys()], () => NOW, (dataset) =>
        datasetLinks(dataset, useCases, services.features.views),
      );
      // t1: an event in the hour bucket where the kept decision's window starts.
      await createProcessor(dataSource, services, 't1').process(asMessages([transaction('T1-EDGE', '2026-04-15T00:10:00.000Z', 'P1', 'A1', 111)]));
      // t2: an event five days before the cutoff, ingested when it happened.
      await createProcessor(dataSource, services, 't2').process(asMessages([transaction('T2-NEAR', '2026-05-10T00:00:00.000Z', 'P2', 'A2', 222)]));
      await dataSource.query("UPDATE ingestion.records SET ingested_at = (record->>'event_time')::timestamptz WHERE record_key IN ('T1-EDGE', 'T2-NEAR')");
      // t3: a recent paysim event, far inside the paysim period but past the german-credit one.
      await createProcessor(dataSource, services, 't3').process(asMessages([transaction('T3-RECENT', '2027-01-10T10:00:00.000Z', 'P3', 'A3', 333)]));
      // An earlier registered version of payee-activity whose source was german-credit.
      await dataSource.query(
        `INSERT INTO feature_store.views (name, version, definition, definition_hash) VALUES ('payee-activity', '0', '{"source":"german-credit"}'::jsonb, repeat('0', 64))`,
      );

      onlineBefore = (await onlineRead()).values;
      replayBefore = (await replayRead())[0].values;
      otherSourceBuckets = await bucketCount('t3');
      assert.ok(otherSourceBuckets > 0, 't3 has buckets');
    });
    after(async () => {
      await db?.cleanup();
    });

    it('cuts records and buckets before the reads', async () => {
      const results = await retention.purge({ actor: 'retention-job' });
      const paysim = datasetResult(results, PAYSIM);
      assert.equal(paysim.cutoff, '2026-05-15T00:30:00.000Z');
      // 30 days of window and one hour bucket before the cutoff.
      assert.equal(paysim.recordCutoff, '2026-04-14T23:30:00.000Z');
      assert.equal(paysim.bucketCutoff, '2026-04-14T23:30:00.000Z');
    });

    it('keeps the online read unchanged', async () => {
      assert.deepEqual((await onlineRead()).values, onlineBefore);
    });

    it('keeps the replay read unchanged', async () => {
      assert.deepEqual((await replayRead())[0].values, replayBefore);
    });

    it('keeps buckets of another source', async () => {
      assert.equal(await bucketCount('t3'), otherSourceBuckets);
    });
  });
}
