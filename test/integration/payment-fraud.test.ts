import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { verifyLedger } from '../../libs/audit/src/index.js';
import { createRuntime, type DecisionView, type TrainSummary, type WardenRuntime } from '../../libs/decisions/src/index.js';
import { ONNX_METADATA_FEATURE_VIEWS, readOnnxMetadata, rocAuc } from '../../libs/models/src/index.js';
import type { Principal } from '../../libs/policy/src/index.js';
import { connectNats, datasetOfSubject, ensureStream, jetstreamManager, publishFile, StreamBatchProcessor, StreamConsumer } from '../../libs/streaming/src/index.js';
import { databaseTargets, REPO_ROOT, sharedDataPath, type TestDatabase } from '../support/databases.js';
import { PAYSIM, readPaysimRows } from '../support/stream-fixtures.js';

const paysim = sharedDataPath('tabular/paysim_fraud_sample/paysim_sample.csv');
const NATS_URL = 'nats://127.0.0.1:4222';
/** Rows of the PaySim sample streamed per database target: a file prefix, to keep the suite within minutes. */
const STREAMED_ROWS = 8000;
const TENANT = 'bank-fraud';
const PRINCIPAL: Principal = { subject: 'payments-app', tenant: TENANT, roles: ['application'] };
/** Decisions in flight at once while the holdout is decided. */
const CONCURRENCY = 4;

let natsSkipReason: string | undefined;
let connection: NatsConnection | undefined;
try {
  connection = await connectNats(NATS_URL, 'warden-payment-fraud-test');
} catch (error) {
  natsSkipReason = `no NATS server with JetStream at ${NATS_URL} (${(error as Error).message})`;
  if (process.env.CI === 'true') throw new Error(`CI needs NATS: ${natsSkipReason}`);
}

/** Builds the request a payment system would send for a PaySim row. */
function requestOf(row: Record<string, string>): Record<string, unknown> {
  return {
    event_time: row.event_time,
    type: row.type,
    amount: Number(row.amount),
    old_balance_orig: Number(row.old_balance_orig),
    old_balance_dest: Number(row.old_balance_dest),
    name_orig: row.name_orig,
    name_dest: row.name_dest,
  };
}

async function mapConcurrently<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  });
  await Promise.all(workers);
  return results;
}

for (const target of await databaseTargets()) {
  describe(`payment fraud end to end on ${target.name}`, { skip: target.skipReason ?? natsSkipReason ?? paysim.skipReason }, () => {
    let db: TestDatabase;
    let runtime: WardenRuntime;
    let manager: JetStreamManager;
    let consumer: StreamConsumer;
    let folder: string;
    const stream = (() => {
      const id = randomBytes(5).toString('hex');
      return { name: `WARDEN_FRAUD_${id}`, prefix: `wfraud${id}.events`, durable: `fraud-${id}` };
    })();
    let rows: Record<string, string>[];
    let trained: TrainSummary;
    let holdout: Record<string, string>[];
    let decisions: DecisionView[];

    before(async () => {
      db = await target.open();
      await db.database.close();
      runtime = await createRuntime(db.config);
      await runtime.ingestion.registerDatasets();
      await runtime.features.registerViews();
      manager = await jetstreamManager(connection as NatsConnection);
      await ensureStream(manager, stream.name, [`${stream.prefix}.>`]);

      folder = mkdtempSync(join(tmpdir(), 'warden-fraud-'));
      const file = join(folder, 'paysim-prefix.csv');
      writeFileSync(file, readFileSync(paysim.path, 'utf8').split('\n').slice(0, STREAMED_ROWS + 1).join('\n') + '\n');
      const definition = runtime.ingestion.getDefinition(PAYSIM);
      rows = readPaysimRows(file, definition);

      const published = await publishFile(connection as NatsConnection, `${stream.prefix}.${PAYSIM}`, definition, file);
      assert.equal(published.published, STREAMED_ROWS);
      const processor = new StreamBatchProcessor(runtime.database.dataSource, runtime.ledger, runtime.features, {
        tenant: TENANT,
        actor: 'stream:fraud-test',
        stream: stream.name,
        consumer: stream.durable,
        datasetOf: datasetOfSubject,
        definitionOf: (dataset) => (dataset === PAYSIM ? definition : undefined),
      });
      consumer = new StreamConsumer(connection as NatsConnection, processor, {
        stream: stream.name,
        durable: stream.durable,
        filterSubject: `${stream.prefix}.>`,
        batchSize: 500,
        maxInFlightBatches: 2,
        maxDeliver: 3,
        ackWaitMs: 30_000,
        retryDelayMs: 50,
      });
      await consumer.start();
      assert.ok(await consumer.waitFor((totals) => totals.messages >= STREAMED_ROWS, 300_000), `consumed ${consumer.totals.messages} of ${STREAMED_ROWS}`);
      assert.equal(consumer.totals.accepted, STREAMED_ROWS);
    });

    after(async () => {
      await consumer?.stop();
      await manager?.streams.delete(stream.name).catch(() => undefined);
      await runtime?.close();
      await db?.cleanup();
      if (folder) rmSync(folder, { recursive: true, force: true });
    });

    it('trains on a time-ordered point-in-time split', async () => {
      trained = await runtime.training.train({ useCase: 'payment-fraud', tenant: TENANT, actor: 'analyst-1' });
      assert.equal(trained.rowCount, STREAMED_ROWS);
      assert.deepEqual(
        trained.featureViews?.map((entry) => `${entry.view}@${entry.version}`),
        ['customer-activity@1', 'payee-activity@1'],
      );
      for (const entry of trained.featureViews ?? []) assert.equal(entry.hash, runtime.features.getView(entry.view).definitionHash);

      const holdoutFrom = Date.parse(trained.holdoutFromTime as string);
      const training = rows.filter((row) => Date.parse(row.event_time) < holdoutFrom);
      holdout = rows.filter((row) => Date.parse(row.event_time) >= holdoutFrom);
      assert.equal(trained.metrics.trainingRows, training.length);
      assert.equal(trained.metrics.holdoutRows, holdout.length);
      const latestTraining = Math.max(...training.map((row) => Date.parse(row.event_time)));
      assert.ok(latestTraining < holdoutFrom, 'every training event precedes every holdout event');

      const model = await runtime.models.get('payment-fraud', trained.version);
      assert.deepEqual(model.trainingConfig.featureViews, trained.featureViews);
      assert.deepEqual(model.trainingConfig.split, { kind: 'time-ordered', holdoutFromTime: trained.holdoutFromTime });
      assert.equal((model.trainingConfig.features as string[]).length, 9);
      assert.deepEqual(JSON.parse(readOnnxMetadata(model.artifact)[ONNX_METADATA_FEATURE_VIEWS]), trained.featureViews);
      const sets: { n: number }[] = await runtime.database.dataSource.query("SELECT count(*)::int AS n FROM audit.ledger_entries WHERE type = 'features.training_set'");
      assert.equal(sets[0].n, 2);
    });

    it('decides the holdout with useful precision, recall and AUC', async () => {
      decisions = await mapConcurrently(holdout, CONCURRENCY, (row) => runtime.decisions.decide(PRINCIPAL, { useCase: 'payment-fraud', application: requestOf(row) }));
      const labels = holdout.map((row) => Number(row.is_fraud) === 1);
      const scores = decisions.map((decision) => decision.score);
      const flagged = decisions.map((decision) => decision.outcome !== 'APPROVE');
      const truePositives = flagged.filter((flag, index) => flag && labels[index]).length;
      const precision = truePositives / flagged.filter(Boolean).length;
      const recall = truePositives / labels.filter(Boolean).length;
      const auc = rocAuc(scores, labels);
      console.log(
        `payment-fraud holdout on ${target.name}: ${holdout.length} payments, ${labels.filter(Boolean).length} fraud, ` +
          `precision ${precision.toFixed(3)}, recall ${recall.toFixed(3)}, AUC ${auc.toFixed(4)} (flagged = REFER or DECLINE)`,
      );
      // Lower bounds set below a first measured run on the server target (2,406 holdout payments:
      // precision 0.855, recall 0.648, AUC 0.985), so a broken feature or split fails them.
      assert.ok(auc > 0.95, `AUC ${auc}`);
      assert.ok(precision > 0.7, `precision ${precision}`);
      assert.ok(recall > 0.55, `recall ${recall}`);

      const outcomes = new Set(decisions.map((decision) => decision.outcome));
      assert.ok(outcomes.has('APPROVE'), `outcomes ${[...outcomes].join(', ')}`);
      assert.ok(outcomes.has('DECLINE'), `outcomes ${[...outcomes].join(', ')}`);
      for (const decision of decisions) {
        if (decision.score > 0.8 || decision.outcome === 'REFER') assert.equal(decision.reviewStatus, 'PENDING', `decision ${decision.id} with score ${decision.score}`);
      }
      const declined = decisions.find((decision) => decision.outcome === 'DECLINE') as DecisionView;
      assert.ok(declined.reasonCodes.length >= 1, 'a blocked payment needs a reason');
      assert.ok(declined.reasonCodes.length <= 4, 'at most four reasons');
      for (const reason of declined.reasonCodes) assert.match(reason.code, /^PF\d{2}$/);
      assert.equal((await verifyLedger(runtime.database.dataSource)).ok, true);
    });

    it('serves the offline training values online', async () => {
      for (const view of ['customer-activity', 'payee-activity']) {
        const entity = view === 'customer-activity' ? 'name_orig' : 'name_dest';
        const set = await runtime.features.buildTrainingSet({
          tenant: TENANT,
          actor: 'analyst-1',
          view,
          labels: holdout.map((row) => ({ entityKey: row[entity], asOf: new Date(row.event_time), label: Number(row.is_fraud), inputs: { amount: Number(row.amount) } })),
        });
        let withHistory = 0;
        for (const [index, decision] of decisions.entries()) {
          const read = decision.lineage.featureReads?.find((entry) => entry.view === view);
          assert.ok(read, `decision ${decision.id} records no ${view} read`);
          assert.equal(read.viewVersion, set.viewVersion);
          assert.equal(read.viewHash, set.viewHash);
          assert.equal(read.asOf, set.rows[index].asOf);
          assert.equal(read.windowEnd, set.rows[index].windowEnd);
          assert.deepEqual(read.values, set.rows[index].values, `${view} for ${read.entityKey} at ${read.asOf}`);
          if ((read.values.tx_count_24h ?? 0) > 0) withHistory += 1;
        }
        // PaySim payers almost never pay twice, so only payees have history.
        if (view === 'payee-activity') assert.ok(withHistory > 0, `no holdout payment has earlier ${view} events in 24 hours`);
      }
    });

    it('records features and replays them', async () => {
      const decision = decisions.find((entry) => (entry.lineage.featureReads?.[1]?.values.tx_count_24h ?? 0) > 0) as DecisionView;
      const stored = await runtime.decisions.get(undefined, decision.id);
      assert.equal(stored.lineage.requestValues?.event_time, stored.lineage.featureReads?.[0].asOf);
      assert.deepEqual(Object.keys(stored.lineage.featureValues).sort(), [...trained.features].sort());
      const report = await runtime.decisions.replay(undefined, decision.id);
      assert.deepEqual(report.differences, []);
      assert.equal(report.identical, true);
    });

    it('reports a late event on replay', async () => {
      const decision = decisions.find((entry) => (entry.lineage.featureReads?.[1]?.values.tx_count_24h ?? 0) > 0) as DecisionView;
      const read = decision.lineage.featureReads?.[1] as NonNullable<DecisionView['lineage']['featureReads']>[number];
      const late = {
        ...rows[0],
        event_key: `LATE-${decision.id}`,
        event_time: new Date(Date.parse(read.windowEnd) - 60_000).toISOString(),
        name_dest: read.entityKey,
        amount: 1,
        step: 1,
      };
      const stored = await runtime.ingestion.ingest({ tenant: TENANT, actor: 'test', dataset: PAYSIM, records: [late], source: 'api' });
      assert.equal(stored.accepted, 1);
      const report = await runtime.decisions.replay(undefined, decision.id);
      assert.equal(report.identical, false);
      assert.deepEqual(
        report.differences.map((difference) => difference.field),
        ['featureReads.payee-activity.values'],
      );
    });

    it('rejects invalid payment requests by field', async () => {
      const request = requestOf(holdout[0]);
      const cases: [Record<string, unknown>, string][] = [
        [{ ...request, event_time: 'yesterday' }, 'event_time'],
        [{ ...request, type: 'WIRE' }, 'type'],
        [{ ...request, amount: -5 }, 'amount'],
        [{ ...request, name_dest: '' }, 'name_dest'],
        [{ ...request, event_time: new Date(Date.now() + 3_600_000).toISOString() }, 'event_time'],
        [{ ...request, is_fraud: 1 }, 'is_fraud'],
        [{ ...request, event_time: '2026-02-30T01:00:00Z' }, 'event_time'],
        [{ ...request, event_time: '0000-01-01T00:00:00Z' }, 'event_time'],
        [{ ...request, event_time: '2026-02-01T01:00:00' }, 'event_time'],
      ];
      for (const [application, field] of cases) {
        await assert.rejects(
          runtime.decisions.decide(PRINCIPAL, { useCase: 'payment-fraud', application }),
          (error: { code?: string; fieldErrors?: { field: string }[] }) => error.code === 'BAD_USER_INPUT' && (error.fieldErrors ?? []).some((entry) => entry.field === field),
          field,
        );
      }
    });

    it('refuses a model trained on another view version', async () => {
      // A copy of the policies where payee-activity gained a feature and became version 2.
      const policyDir = join(folder, 'policies');
      cpSync(join(REPO_ROOT, 'policies'), policyDir, { recursive: true });
      const viewFile = join(policyDir, 'features', 'payee-activity.yaml');
      writeFileSync(
        viewFile,
        readFileSync(viewFile, 'utf8').replace('version: "1"', 'version: "2"').replace('aggregations:\n', 'aggregations:\n  - { name: tx_count_6h, function: count, window: 6h }\n'),
      );
      const useCaseFile = join(policyDir, 'use-cases', 'payment-fraud.yaml');
      writeFileSync(useCaseFile, readFileSync(useCaseFile, 'utf8').replace('{ view: payee-activity, version: "1"', '{ view: payee-activity, version: "2"'));

      await runtime.close();
      runtime = await createRuntime({ ...db.config, policyDir });
      await runtime.features.registerViews();
      await assert.rejects(
        runtime.decisions.decide(PRINCIPAL, { useCase: 'payment-fraud', application: requestOf(holdout[0]) }),
        (error: Error & { code?: string }) =>
          error.code === 'FAILED_PRECONDITION' && /trained on feature view payee-activity version 1 .*serves version 2/.test(error.message) && /Retrain/.test(error.message),
      );
    });
  });
}

after(async () => {
  await connection?.close();
});
