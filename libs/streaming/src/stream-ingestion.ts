import type { NatsConnection } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import type { LedgerAppender } from '../../audit/src/index.js';
import type { WardenConfig } from '../../common/src/index.js';
import type { IngestionService } from '../../ingestion/src/index.js';
import type { WardenMetrics } from '../../monitoring/src/index.js';
import { StreamBatchProcessor, type BatchSummary, type FeatureUpdater } from './batch-processor.js';
import { connectNats, datasetOfSubject, ensureStream, EVENT_SUBJECT_PREFIX, jetstreamManager } from './jetstream.js';
import { StreamConsumer, type StreamConsumerOptions } from './stream-consumer.js';

export interface StreamIngestionDependencies {
  dataSource: DataSource;
  ledger: LedgerAppender;
  ingestion: IngestionService;
  features: FeatureUpdater;
  config: WardenConfig;
  metrics?: WardenMetrics;
}

export interface RunningStreamIngestion {
  consumer: StreamConsumer;
  connection: NatsConnection;
  /** Stops the consumer, waits for batches in flight and closes the NATS connection. */
  close(): Promise<void>;
}

/** Time the server waits for an acknowledgement before it redelivers, in milliseconds. */
const DEFAULT_ACK_WAIT_MS = 30_000;

/**
 * Connects to WARDEN_NATS_URL, creates the event stream and the durable consumer when missing,
 * and starts consuming into the database. Raises FailedPreconditionError when NATS is not set.
 */
export async function startStreamIngestion(
  dependencies: StreamIngestionDependencies,
  overrides: Partial<StreamConsumerOptions> = {},
): Promise<RunningStreamIngestion> {
  const { config } = dependencies;
  if (!config.natsUrl) throw new Error('startStreamIngestion needs WARDEN_NATS_URL');
  await dependencies.ingestion.registerDatasets();

  const definitions = new Map(dependencies.ingestion.listDefinitions().map((definition) => [definition.dataset, definition]));
  const connection = await connectNats(config.natsUrl, `warden-${config.streamConsumer}`);
  try {
    await ensureStream(await jetstreamManager(connection), config.streamName, [`${EVENT_SUBJECT_PREFIX}>`]);
    const processor = new StreamBatchProcessor(dependencies.dataSource, dependencies.ledger, dependencies.features, {
      tenant: config.streamTenant,
      actor: `stream:${config.streamConsumer}`,
      stream: config.streamName,
      consumer: config.streamConsumer,
      datasetOf: datasetOfSubject,
      definitionOf: (dataset) => definitions.get(dataset),
    });
    const metrics = dependencies.metrics;
    const callback = overrides.onBatchCommitted;
    const consumer = new StreamConsumer(connection, processor, {
      stream: config.streamName,
      durable: config.streamConsumer,
      filterSubject: `${EVENT_SUBJECT_PREFIX}>`,
      batchSize: config.streamBatchSize,
      maxInFlightBatches: 2,
      maxDeliver: config.streamMaxDeliver,
      ackWaitMs: DEFAULT_ACK_WAIT_MS,
      retryDelayMs: 1000,
      ...overrides,
      onBatchCommitted: async (summary: BatchSummary) => {
        if (metrics) countEvents(metrics, config.streamName, summary);
        await callback?.(summary);
      },
    });
    await consumer.start();
    metrics?.observeStreamLag(config.streamName, config.streamConsumer, () => consumer.lag());
    return {
      consumer,
      connection,
      async close() {
        await consumer.stop();
        await connection.close();
      },
    };
  } catch (error) {
    await connection.close();
    throw error;
  }
}

function countEvents(metrics: WardenMetrics, stream: string, summary: BatchSummary): void {
  metrics.streamEvents.add(summary.accepted, { stream, result: 'accepted' });
  metrics.streamEvents.add(summary.duplicates, { stream, result: 'duplicate' });
  metrics.streamEvents.add(summary.quarantined, { stream, result: 'quarantined' });
  metrics.streamEvents.add(summary.deadLettered, { stream, result: 'dead_letter' });
}
