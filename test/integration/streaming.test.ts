import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type JetStreamManager } from '@nats-io/jetstream';
import type { DataSource } from 'typeorm';
import { WardenMetrics } from '../../libs/monitoring/src/index.js';
import {
  connectNats,
  ensureStream,
  jetstreamManager,
  MAX_FETCH_FAILURES,
  publishFile,
  StreamConsumer,
  type FeatureUpdater,
  type StreamConsumerOptions,
} from '../../libs/streaming/src/index.js';
import { databaseTargets, REPO_ROOT, sharedDataPath, type TestDatabase } from '../support/databases.js';
import { createProcessor, createStreamServices, PAYSIM, transaction, type StreamServices } from '../support/stream-fixtures.js';

const paysim = sharedDataPath('tabular/paysim_fraud_sample/paysim_sample.csv');
const NATS_URL = 'nats://127.0.0.1:4222';
const CHILD_SCRIPT = join(REPO_ROOT, 'dist', 'test', 'integration', 'stream-consumer-child.js');
const PUBLISHED_ROWS = 3000;

let natsSkipReason: string | undefined;
let connection: NatsConnection | undefined;
try {
  connection = await connectNats(NATS_URL, 'warden-streaming-test');
} catch (error) {
  natsSkipReason = `no NATS server with JetStream at ${NATS_URL} (${(error as Error).message})`;
  if (process.env.CI === 'true') throw new Error(`CI needs NATS: ${natsSkipReason}`);
}

/** One test's own stream, subject prefix and durable consumer name. */
interface TestStream {
  stream: string;
  prefix: string;
  subject: string;
  durable: string;
}

async function createTestStream(manager: JetStreamManager): Promise<TestStream> {
  const id = randomBytes(5).toString('hex');
  const stream: TestStream = { stream: `WARDEN_TEST_${id}`, prefix: `wtest${id}.events`, subject: `wtest${id}.events.${PAYSIM}`, durable: `ingest-${id}` };
  await ensureStream(manager, stream.stream, [`${stream.prefix}.>`]);
  return stream;
}

async function publishJson(subject: string, values: readonly unknown[]): Promise<void> {
  const client = jetstream(connection as NatsConnection);
  for (const value of values) {
    await client.publish(subject, typeof value === 'string' ? new TextEncoder().encode(value) : new TextEncoder().encode(JSON.stringify(value)));
  }
}

async function count(dataSource: DataSource, sql: string, parameters: unknown[]): Promise<number> {
  const rows: { n: string | number }[] = await dataSource.query(sql, parameters);
  return Number(rows[0].n);
}

const storedRecords = (dataSource: DataSource, tenant: string) =>
  count(dataSource, 'SELECT count(*) AS n FROM ingestion.records WHERE tenant = $1 AND dataset = $2', [tenant, PAYSIM]);
/** Events counted by a view; both PaySim views count events by their required `amount` field. */
const countedEvents = (dataSource: DataSource, tenant: string, view: string) =>
  count(dataSource, "SELECT coalesce(sum(event_count), 0) AS n FROM feature_store.bucket_stats WHERE tenant = $1 AND view = $2 AND field = 'amount'", [tenant, view]);

function syntheticEvents(prefix: string, total: number, dest = 'DEST-1'): Record<string, unknown>[] {
  return Array.from({ length: total }, (_, index) =>
    transaction(`${prefix}-${index}`, new Date(Date.parse('2026-04-01T00:00:00Z') + index * 60_000).toISOString(), `${dest}-${index % 7}`, `ORIG-${index % 11}`, 10 + index),
  );
}

for (const target of await databaseTargets()) {
  describe(`stream ingestion on ${target.name}`, { skip: target.skipReason ?? natsSkipReason }, () => {
    let db: TestDatabase;
    let dataSource: DataSource;
    let services: StreamServices;
    let manager: JetStreamManager;
    const streams: TestStream[] = [];
    const consumers: StreamConsumer[] = [];

    const newStream = async () => {
      const stream = await createTestStream(manager);
      streams.push(stream);
      return stream;
    };

    const startConsumer = async (stream: TestStream, tenant: string, options: Partial<StreamConsumerOptions> = {}, features?: FeatureUpdater) => {
      const consumer = new StreamConsumer(connection as NatsConnection, createProcessor(dataSource, services, tenant, features, { stream: stream.stream, consumer: stream.durable }), {
        stream: stream.stream,
        durable: stream.durable,
        filterSubject: `${stream.prefix}.>`,
        batchSize: 200,
        maxInFlightBatches: 2,
        maxDeliver: 3,
        ackWaitMs: 1000,
        retryDelayMs: 50,
        ...options,
      });
      consumers.push(consumer);
      await consumer.start();
      return consumer;
    };

    before(async () => {
      db = await target.open();
      dataSource = db.database.dataSource;
      services = await createStreamServices(dataSource);
      manager = await jetstreamManager(connection as NatsConnection);
    });

    after(async () => {
      for (const consumer of consumers) await consumer.stop();
      for (const stream of streams) await manager.streams.delete(stream.stream).catch(() => undefined);
      await db?.cleanup();
    });

    it('stores a replayed PaySim file once', { skip: paysim.skipReason }, async () => {
      const stream = await newStream();
      const tenant = 'bank-replay';
      const folder = mkdtempSync(join(tmpdir(), 'warden-stream-'));
      const file = join(folder, 'paysim-part.csv');
      writeFileSync(file, readFileSync(paysim.path, 'utf8').split('\n').slice(0, PUBLISHED_ROWS + 1).join('\n') + '\n');

      const first = await publishFile(connection as NatsConnection, stream.subject, services.definition, file);
      assert.equal(first.published, PUBLISHED_ROWS);
      // A long ack wait keeps a batch that a loaded machine processes slowly from being delivered
      // again and, after maxDeliver attempts, dead-lettered instead of counted as a duplicate.
      const consumer = await startConsumer(stream, tenant, { ackWaitMs: 30_000 });
      assert.ok(await consumer.waitFor((totals) => totals.messages >= PUBLISHED_ROWS, 120_000), `consumed ${consumer.totals.messages}`);
      assert.equal(consumer.totals.accepted + consumer.totals.quarantined, PUBLISHED_ROWS);
      assert.ok(consumer.totals.accepted > PUBLISHED_ROWS * 0.9, `accepted ${consumer.totals.accepted}`);
      assert.equal(await storedRecords(dataSource, tenant), consumer.totals.accepted);
      assert.equal(await countedEvents(dataSource, tenant, 'payee-activity'), consumer.totals.accepted);
      assert.equal(await countedEvents(dataSource, tenant, 'customer-activity'), consumer.totals.accepted);

      // The server drops messages whose id (the event key) it stored within its duplicate window.
      const again = await publishFile(connection as NatsConnection, stream.subject, services.definition, file);
      assert.equal(again.published, 0);
      assert.equal(again.duplicates, PUBLISHED_ROWS);

      // Replayed as new messages (no message id), they reach the consumer and are stored once.
      const sample = readFileSync(file, 'utf8');
      rmSync(folder, { recursive: true, force: true });
      const before = consumer.totals.duplicates;
      const replayFolder = mkdtempSync(join(tmpdir(), 'warden-stream-'));
      const jsonl = join(replayFolder, 'replay.jsonl');
      const records = (await dataSource.query('SELECT record FROM ingestion.records WHERE tenant = $1 ORDER BY record_key LIMIT 500', [tenant])) as { record: unknown }[];
      writeFileSync(jsonl, records.map((row) => JSON.stringify(row.record)).join('\n'));
      await publishJson(stream.subject, records.map((row) => row.record));
      assert.ok(await consumer.waitFor((totals) => totals.duplicates - before >= 500, 60_000), `duplicates ${consumer.totals.duplicates - before}`);
      assert.equal(await storedRecords(dataSource, tenant), consumer.totals.accepted);
      assert.equal(await countedEvents(dataSource, tenant, 'payee-activity'), consumer.totals.accepted);
      rmSync(replayFolder, { recursive: true, force: true });
      assert.ok(sample.length > 0);

      const lag = await consumer.lag();
      assert.equal(lag.pending, 0);
    });

    it('quarantines invalid events', async () => {
      const stream = await newStream();
      const tenant = 'bank-quarantine';
      const good = transaction('Q-good', '2026-04-02T00:00:00Z', 'D', 'O', 5);
      const missingAmount = { ...transaction('Q-missing', '2026-04-02T00:00:00Z', 'D', 'O', 5), amount: undefined };
      const badType = { ...transaction('Q-type', '2026-04-02T00:00:00Z', 'D', 'O', 5), type: 'BITCOIN' };
      const badTime = { ...transaction('Q-time', '2026-13-02T00:00:00Z', 'D', 'O', 5) };
      await publishJson(stream.subject, [good, missingAmount, badType, badTime, 'not json at all']);

      const consumer = await startConsumer(stream, tenant);
      assert.ok(await consumer.waitFor((totals) => totals.messages >= 5, 30_000));
      assert.equal(consumer.totals.accepted, 1);
      assert.equal(consumer.totals.quarantined, 4);
      const rows: { record_key: string | null; errors: { field: string; message: string }[] }[] = await dataSource.query(
        'SELECT record_key, errors FROM ingestion.quarantine WHERE tenant = $1 ORDER BY row_number',
        [tenant],
      );
      assert.deepEqual(
        rows.map((row) => row.errors[0].field),
        ['amount', 'type', 'event_time', 'record'],
      );
      assert.match(rows[1].errors[0].message, /unknown code "BITCOIN"/);
      assert.match(rows[3].errors[0].message, /not valid JSON/);
      assert.equal(await countedEvents(dataSource, tenant, 'payee-activity'), 1);
    });

    it('moves repeatedly failing events to the dead letters', async () => {
      const stream = await newStream();
      const tenant = 'bank-dead-letter';
      const failing: FeatureUpdater = {
        async applyRecords(manager, updateTenant, dataset, records, recordKeyField) {
          if (records.some((record) => record.name_dest === 'POISON')) throw new Error('feature update failed for POISON');
          await services.features.applyRecords(manager, updateTenant, dataset, records, recordKeyField);
        },
      };
      const events = syntheticEvents('DL', 20);
      events[7] = transaction('DL-poison', '2026-04-03T00:00:00Z', 'POISON', 'O', 1);
      await publishJson(stream.subject, events);
      await publishJson(`${stream.prefix}.no-such-dataset`, [transaction('DL-nowhere', '2026-04-03T00:00:00Z', 'D', 'O', 1)]);

      const consumer = await startConsumer(stream, tenant, {}, failing);
      assert.ok(
        await consumer.waitFor((totals) => totals.deadLettered >= 2 && totals.accepted >= 19, 60_000),
        `${JSON.stringify(consumer.totals)} ${consumer.error?.message ?? 'no consumer error'}`,
      );
      const letters: { event_key: string; delivery_count: number; reason: string; subject: string }[] = await dataSource.query(
        'SELECT event_key, delivery_count, reason, subject FROM streaming.dead_letters WHERE tenant = $1 ORDER BY stream_seq',
        [tenant],
      );
      assert.equal(letters.length, 2);
      assert.equal(letters[0].event_key, 'DL-poison');
      assert.equal(letters[0].delivery_count, 3);
      assert.match(letters[0].reason, /feature update failed for POISON/);
      // Without a dataset there is no definition to say which field is the event key.
      assert.equal(letters[1].event_key, null);
      assert.equal(letters[1].delivery_count, 1);
      assert.equal(letters[1].subject, `${stream.prefix}.no-such-dataset`);
      assert.match(letters[1].reason, /names no defined dataset/);
      assert.equal(await storedRecords(dataSource, tenant), 19);
      const ledger = await count(dataSource, "SELECT count(*) AS n FROM audit.ledger_entries WHERE type = 'stream.dead_letter' AND tenant = $1", [tenant]);
      assert.equal(ledger, 2);
    });

    it('loses nothing when a transaction fails', async () => {
      const stream = await newStream();
      const tenant = 'bank-rollback';
      let failures = 0;
      const failOnce: FeatureUpdater = {
        async applyRecords(manager, updateTenant, dataset, records, recordKeyField) {
          await services.features.applyRecords(manager, updateTenant, dataset, records, recordKeyField);
          if (failures === 0) {
            failures += 1;
            throw new Error('connection lost in the middle of the batch');
          }
        },
      };
      await publishJson(stream.subject, syntheticEvents('RB', 300));
      const consumer = await startConsumer(stream, tenant, { batchSize: 100 }, failOnce);
      assert.ok(await consumer.waitFor((totals) => totals.accepted >= 300, 60_000), JSON.stringify(consumer.totals));
      assert.equal(failures, 1);
      assert.equal(consumer.totals.deadLettered, 0);
      assert.equal(await storedRecords(dataSource, tenant), 300);
      assert.equal(await countedEvents(dataSource, tenant, 'customer-activity'), 300);
    });

    it('fetches again after failed fetches', async () => {
      const stream = await newStream();
      const tenant = 'bank-fetch-retry';
      await publishJson(stream.subject, syntheticEvents('FR', 50));
      const consumer = await startConsumer(stream, tenant, { batchSize: 20 });
      // The next two fetches fail, as in a leader change.
      const jetstreamConsumer = (consumer as unknown as { consumer: { fetch: (...args: unknown[]) => Promise<unknown> } }).consumer;
      const fetch = jetstreamConsumer.fetch.bind(jetstreamConsumer);
      let calls = 0;
      jetstreamConsumer.fetch = async (...args: unknown[]) => {
        calls += 1;
        if (calls <= 2) throw new Error('fetch lost in a leader change');
        return fetch(...args);
      };
      assert.ok(await consumer.waitFor((totals) => totals.accepted >= 50, 60_000), `${JSON.stringify(consumer.totals)} ${consumer.error?.message ?? ''}`);
      assert.equal(consumer.error, undefined);
      assert.ok(calls >= 3, `fetches ${calls}`);
      assert.equal(await storedRecords(dataSource, tenant), 50);
    });

    it('stops after repeated failed fetches', async () => {
      const stream = await newStream();
      const consumer = await startConsumer(stream, 'bank-fetch-down');
      const jetstreamConsumer = (consumer as unknown as { consumer: { fetch: () => Promise<unknown> } }).consumer;
      let calls = 0;
      jetstreamConsumer.fetch = async () => {
        calls += 1;
        throw new Error('server unreachable');
      };
      assert.ok(await consumer.waitFor(() => consumer.error !== undefined, 30_000));
      assert.equal(consumer.error?.message, 'server unreachable');
      assert.equal(calls, MAX_FETCH_FAILURES);
    });

    it('recovers a batch committed but not acknowledged', async () => {
      const stream = await newStream();
      const tenant = 'bank-unacked';
      await publishJson(stream.subject, syntheticEvents('UA', 400));
      const crashing = await startConsumer(stream, tenant, {
        batchSize: 100,
        maxInFlightBatches: 1,
        onBatchCommitted() {
          throw new Error('process stopped before acknowledging');
        },
      });
      assert.ok(await crashing.waitFor(() => crashing.error !== undefined, 30_000));
      await crashing.stop();
      assert.equal(crashing.totals.messages, 0);
      assert.equal(await storedRecords(dataSource, tenant), 100);
      const lag = await crashing.lag();
      assert.equal(lag.pending + lag.ackPending, 400);

      const restarted = await startConsumer(stream, tenant, { batchSize: 100 });
      assert.ok(await restarted.waitFor((totals) => totals.accepted + totals.duplicates >= 400, 60_000), JSON.stringify(restarted.totals));
      assert.equal(restarted.totals.accepted, 300);
      assert.equal(restarted.totals.duplicates, 100);
      assert.equal(await storedRecords(dataSource, tenant), 400);
      assert.equal(await countedEvents(dataSource, tenant, 'payee-activity'), 400);
      assert.equal(await countedEvents(dataSource, tenant, 'customer-activity'), 400);
    });

    it('reports consumer lag as a metric', async () => {
      const stream = await newStream();
      await publishJson(stream.subject, syntheticEvents('LAG', 30));
      const consumer = await startConsumer(stream, 'bank-lag', { batchSize: 10 });
      assert.ok(await consumer.waitFor((totals) => totals.accepted >= 30, 30_000));
      await consumer.stop();
      await publishJson(stream.subject, syntheticEvents('LAG2', 12));

      const metrics = new WardenMetrics();
      metrics.observeStreamLag(stream.stream, stream.durable, () => consumer.lag());
      const text = await scrape(metrics);
      await metrics.shutdown();
      assert.match(text, new RegExp(`warden_stream_consumer_lag\\{stream="${stream.stream}",consumer="${stream.durable}",state="pending"[^}]*\\} 12\n`));
    });

    for (const hold of ['after-commit', 'in-transaction'] as const) {
      it(`survives SIGKILL ${hold}`, { skip: target.name === 'embedded' ? 'PGlite runs inside one process; the in-process crash tests cover it' : undefined }, async () => {
        const stream = await newStream();
        const tenant = `bank-kill-${hold}`;
        const total = 500;
        await publishJson(stream.subject, syntheticEvents(`KILL-${hold}`, total));

        const child = spawn(process.execPath, [CHILD_SCRIPT], {
          env: {
            ...process.env,
            LOG_LEVEL: 'silent',
            STREAM_CHILD_HOLD: hold,
            STREAM_CHILD_DATABASE_URL: db.config.databaseUrl,
            STREAM_CHILD_DATA_DIR: db.config.dataDir,
            STREAM_CHILD_TENANT: tenant,
            STREAM_CHILD_STREAM: stream.stream,
            STREAM_CHILD_DURABLE: stream.durable,
            STREAM_CHILD_FILTER: `${stream.prefix}.>`,
            STREAM_CHILD_BATCH_SIZE: '100',
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
        const holding = await new Promise<string>((resolve, reject) => {
          createInterface({ input: child.stdout }).on('line', (line) => {
            if (line.includes('"holding"')) resolve(line);
          });
          child.on('exit', () => reject(new Error('the consumer process exited before it reached the hold point')));
        });
        assert.match(holding, new RegExp(hold));
        process.kill(child.pid as number, 'SIGKILL');
        assert.equal(await exited, 'SIGKILL');

        const committed = await storedRecords(dataSource, tenant);
        assert.equal(committed, hold === 'after-commit' ? 100 : 0);

        const restarted = await startConsumer(stream, tenant, { batchSize: 100 });
        assert.ok(await restarted.waitFor((totals) => totals.accepted + totals.duplicates >= total, 60_000), JSON.stringify(restarted.totals));
        assert.equal(restarted.totals.accepted, total - committed);
        assert.equal(restarted.totals.duplicates, committed);
        assert.equal(await storedRecords(dataSource, tenant), total);
        assert.equal(await countedEvents(dataSource, tenant, 'payee-activity'), total);
        assert.equal(await countedEvents(dataSource, tenant, 'customer-activity'), total);
      });
    }
  });
}

after(async () => {
  await connection?.close();
});

/** Reads the Prometheus text that the gateway's /metrics route would return. */
function scrape(metrics: WardenMetrics): Promise<string> {
  return new Promise((resolve) => {
    let body = '';
    const response = {
      statusCode: 200,
      setHeader() {},
      writeHead() {
        return response;
      },
      write(chunk: string) {
        body += chunk;
        return true;
      },
      end(chunk?: string) {
        if (chunk) body += chunk;
        resolve(body);
      },
    };
    metrics.handleScrape({ url: '/metrics', headers: {} } as never, response as never);
  });
}
