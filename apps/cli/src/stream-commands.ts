import { writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import type { Command } from 'commander';
import { operatorActor, printJson } from './cli-runtime.js';
import { BadUserInputError, NotFoundError, type WardenConfig } from '../../../libs/common/src/index.js';
import { loadDatasetDefinitions } from '../../../libs/ingestion/src/index.js';
import { createRuntime, type WardenRuntime } from '../../../libs/decisions/src/index.js';
import { formatTrainingSet, readLabelsFile, runBackfill, type FeatureStore } from '../../../libs/feature-store/src/index.js';
import {
  connectNats,
  datasetOfSubject,
  ensureStream,
  EVENT_SUBJECT_PREFIX,
  jetstreamManager,
  publishFile,
  startStreamIngestion,
} from '../../../libs/streaming/src/index.js';

const DEFAULT_TENANT = 'demo-bank';

async function withFeatureStore<T>(loadConfig: () => WardenConfig, work: (runtime: WardenRuntime, store: FeatureStore) => Promise<T>): Promise<T> {
  const runtime = await createRuntime(loadConfig());
  try {
    await runtime.features.registerViews();
    return await work(runtime, runtime.features);
  } finally {
    await runtime.close();
  }
}

function requireNatsUrl(config: WardenConfig): string {
  if (!config.natsUrl) {
    throw new BadUserInputError('WARDEN_NATS_URL is not set.', [
      { field: 'WARDEN_NATS_URL', message: 'set WARDEN_NATS_URL to the NATS server with JetStream, such as nats://127.0.0.1:4222' },
    ]);
  }
  return config.natsUrl;
}

function parsePositive(value: string, option: string): number {
  if (!/^[1-9]\d{0,6}$/.test(value)) {
    throw new BadUserInputError(`Invalid ${option} "${value}".`, [{ field: option, message: `${option} must be a whole number from 1 to 9999999` }]);
  }
  return Number(value);
}

/**
 * Starts stream ingestion for `warden start` when WARDEN_NATS_URL is set; returns undefined, and
 * connects to nothing, when it is not.
 */
export async function startConfiguredStreamIngestion(runtime: WardenRuntime): Promise<{ close(): Promise<void> } | undefined> {
  if (!runtime.config.natsUrl) return undefined;
  await runtime.features.registerViews();
  return startStreamIngestion({
    dataSource: runtime.database.dataSource,
    ledger: runtime.ledger,
    ingestion: runtime.ingestion,
    features: runtime.features,
    config: runtime.config,
    metrics: runtime.metrics,
  });
}

/** Registers `warden stream ...` and `warden features ...`. */
export function registerStreamCommands(program: Command, loadConfig: () => WardenConfig): void {
  const stream = program.command('stream').description('Stream ingestion through NATS JetStream (needs WARDEN_NATS_URL)');

  stream
    .command('publish')
    .description('Replay a CSV or JSONL file into a stream subject, one record per message')
    .requiredOption('--subject <subject>', `subject, ${EVENT_SUBJECT_PREFIX}<dataset>`)
    .requiredOption('--file <path>', 'file to replay')
    .option('--dataset <name>', 'dataset whose mapping reads the file; default: the last token of the subject')
    .option('--format <format>', 'csv or jsonl; default: from the file extension')
    .action(async (options: { subject: string; file: string; dataset?: string; format?: string }) => {
      const config = loadConfig();
      const url = requireNatsUrl(config);
      const dataset = options.dataset ?? datasetOfSubject(options.subject);
      if (!dataset) {
        throw new BadUserInputError(`Cannot tell the dataset of subject ${options.subject}.`, [
          { field: '--subject', message: `use a subject ${EVENT_SUBJECT_PREFIX}<dataset>, or pass --dataset` },
        ]);
      }
      // Publishing reads only the dataset definition, so it opens no database.
      const definitions = loadDatasetDefinitions(config.policyDir);
      const definition = definitions.get(dataset);
      if (!definition) {
        throw new NotFoundError(`Dataset ${dataset} is not defined; defined datasets: ${[...definitions.keys()].sort().join(', ') || 'none'}.`);
      }
      const connection = await connectNats(url, 'warden-publish');
      try {
        await ensureStream(await jetstreamManager(connection), config.streamName, [`${EVENT_SUBJECT_PREFIX}>`]);
        printJson(await publishFile(connection, options.subject, definition, resolve(options.file), options.format as never));
      } finally {
        await connection.close();
      }
    });

  stream
    .command('consume')
    .description('Consume the event stream into the database and feature store until interrupted')
    .option('--until-idle', 'exit once every event in the stream is acknowledged', false)
    .action(async (options: { untilIdle: boolean }) => {
      const config = loadConfig();
      requireNatsUrl(config);
      await withFeatureStore(loadConfig, async (runtime, store) => {
        const ingestion = await startStreamIngestion({
          dataSource: runtime.database.dataSource,
          ledger: runtime.ledger,
          ingestion: runtime.ingestion,
          features: store,
          config,
          metrics: runtime.metrics,
        });
        const finished = new Promise<void>((resolveFinished) => {
          process.once('SIGINT', () => resolveFinished());
          process.once('SIGTERM', () => resolveFinished());
          if (options.untilIdle) void waitUntilIdle(ingestion.consumer).then(() => resolveFinished());
        });
        await finished;
        await ingestion.close();
        printJson({ stream: config.streamName, consumer: config.streamConsumer, ...ingestion.consumer.totals });
      });
    });

  const features = program.command('features').description('Feature views: online reads, training sets and backfills');

  features
    .command('read')
    .description('Read the online features of one entity as of a time')
    .requiredOption('--view <name>', 'feature view, such as payee-activity')
    .requiredOption('--entity <key>', 'entity key, such as a customer id')
    .option('--as-of <time>', 'ISO 8601 date-time; default: now')
    .option('--input <name=value...>', "values of the view's inputs, such as amount=120.5")
    .option('--tenant <tenant>', 'tenant', DEFAULT_TENANT)
    .action(async (options: { view: string; entity: string; asOf?: string; input?: string[]; tenant: string }) => {
      const inputs: Record<string, number> = {};
      for (const pair of options.input ?? []) {
        const [name, value] = pair.split('=');
        if (!name || value === undefined || Number.isNaN(Number(value))) {
          throw new BadUserInputError(`Invalid --input "${pair}".`, [{ field: '--input', message: 'each --input must be name=number, such as amount=120.5' }]);
        }
        inputs[name] = Number(value);
      }
      await withFeatureStore(loadConfig, async (_runtime, store) => {
        const asOf = options.asOf === undefined ? new Date() : new Date(options.asOf);
        printJson(await store.getOnlineFeatures({ tenant: options.tenant, view: options.view, entityKey: options.entity, asOf, inputs }));
      });
    });

  features
    .command('training-set')
    .description('Write point-in-time features for each row of a labels file (entity_key, as_of, label)')
    .requiredOption('--view <name>', 'feature view')
    .requiredOption('--labels <path>', 'CSV or JSONL labels file')
    .requiredOption('--out <path>', 'output file; .jsonl writes JSON Lines, anything else CSV')
    .option('--tenant <tenant>', 'tenant whose stored records feed the features', DEFAULT_TENANT)
    .action(async (options: { view: string; labels: string; out: string; tenant: string }) => {
      await withFeatureStore(loadConfig, async (_runtime, store) => {
        const labels = readLabelsFile(resolve(options.labels), store.getView(options.view));
        const set = await store.buildTrainingSet({ tenant: options.tenant, actor: operatorActor(), view: options.view, labels });
        const format = extname(options.out).toLowerCase() === '.jsonl' ? 'jsonl' : 'csv';
        writeFileSync(resolve(options.out), formatTrainingSet(set, format));
        printJson({ view: set.view, viewVersion: set.viewVersion, viewHash: set.viewHash, rows: set.rows.length, dataDigest: set.dataDigest, out: resolve(options.out) });
      });
    });

  features
    .command('backfill')
    .description("Rebuild a view's online store from stored records; resumes from its checkpoint")
    .requiredOption('--view <name>', 'feature view')
    .option('--tenant <tenant>', 'tenant', DEFAULT_TENANT)
    .option('--page-size <n>', 'records per transaction', '2000')
    .option('--max-pages <n>', 'stop after this many pages and keep the checkpoint')
    .option('--restart', 'discard the checkpoint and the store of the view version, then start again', false)
    .action(async (options: { view: string; tenant: string; pageSize: string; maxPages?: string; restart: boolean }) => {
      await withFeatureStore(loadConfig, async (runtime, store) => {
        printJson(
          await runBackfill(runtime.database.dataSource, runtime.ledger, store.getView(options.view), {
            tenant: options.tenant,
            actor: operatorActor(),
            pageSize: parsePositive(options.pageSize, '--page-size'),
            maxPages: options.maxPages === undefined ? undefined : parsePositive(options.maxPages, '--max-pages'),
            restart: options.restart,
          }),
        );
      });
    });
}

/** Resolves once the consumer has nothing pending or unacknowledged, checked twice 200 ms apart. */
async function waitUntilIdle(consumer: { lag(): Promise<{ pending: number; ackPending: number }> }): Promise<void> {
  let idleChecks = 0;
  while (idleChecks < 2) {
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 200));
    const lag = await consumer.lag();
    idleChecks = lag.pending === 0 && lag.ackPending === 0 ? idleChecks + 1 : 0;
  }
}
