// A stream consumer in its own process, for the crash tests in streaming.test.ts. It consumes
// like `warden stream consume` and then stops at the point named by STREAM_CHILD_HOLD, printing a
// line that tells the parent when to kill it with SIGKILL:
//   after-commit    the first batch committed and is not yet acknowledged
//   in-transaction  the first batch is inside its open transaction (records inserted, not committed)
import { loadConfig } from '../../libs/common/src/index.js';
import { openDatabase } from '../../libs/database/src/index.js';
import { connectNats, StreamConsumer, type FeatureUpdater } from '../../libs/streaming/src/index.js';
import { createProcessor, createStreamServices, POLICY_DIR } from '../support/stream-fixtures.js';

const env = process.env;
const hold = env.STREAM_CHILD_HOLD;
const config = { ...loadConfig({ LOG_LEVEL: 'silent', DATABASE_URL: env.STREAM_CHILD_DATABASE_URL, WARDEN_DATA_DIR: env.STREAM_CHILD_DATA_DIR }), policyDir: POLICY_DIR };
const database = await openDatabase(config);
const services = await createStreamServices(database.dataSource);
const forever = () => new Promise<never>(() => undefined);

const features: FeatureUpdater = {
  async applyRecords(manager, tenant, dataset, records, recordKeyField) {
    await services.features.applyRecords(manager, tenant, dataset, records, recordKeyField);
    if (hold === 'in-transaction') {
      console.log(JSON.stringify({ holding: 'in-transaction', records: records.length }));
      await forever();
    }
  },
};
const names = { stream: env.STREAM_CHILD_STREAM as string, consumer: env.STREAM_CHILD_DURABLE as string };
const processor = createProcessor(database.dataSource, services, env.STREAM_CHILD_TENANT as string, features, names);
const connection = await connectNats('nats://127.0.0.1:4222', 'warden-test-child');
const consumer = new StreamConsumer(connection, processor, {
  stream: env.STREAM_CHILD_STREAM as string,
  durable: env.STREAM_CHILD_DURABLE as string,
  filterSubject: env.STREAM_CHILD_FILTER as string,
  batchSize: Number(env.STREAM_CHILD_BATCH_SIZE),
  maxInFlightBatches: 1,
  maxDeliver: 5,
  ackWaitMs: 1000,
  retryDelayMs: 50,
  async onBatchCommitted(summary) {
    if (hold === 'after-commit') {
      console.log(JSON.stringify({ holding: 'after-commit', accepted: summary.accepted }));
      await forever();
    }
  },
});
await consumer.start();
console.log(JSON.stringify({ started: true }));
