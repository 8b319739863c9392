import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { FailedPreconditionError } from '../../common/src/index.js';

/** Subject prefix of dataset events: `warden.events.<dataset>`. */
export const EVENT_SUBJECT_PREFIX = 'warden.events.';

/** Returns the subject that events of a dataset are published on. */
export function subjectOf(dataset: string): string {
  return `${EVENT_SUBJECT_PREFIX}${dataset}`;
}

/**
 * Returns the dataset named by the last token of a subject (`warden.events.paysim-transactions`
 * names paysim-transactions), or undefined when that token is not a dataset name.
 */
export function datasetOfSubject(subject: string): string | undefined {
  const dataset = subject.slice(subject.lastIndexOf('.') + 1);
  return /^[a-z][a-z0-9-]{0,62}$/.test(dataset) ? dataset : undefined;
}

/** Connects to NATS, raising FailedPreconditionError with the URL and the fix when it cannot. */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  const { hostname, port } = new URL(url);
  try {
    return await connect({ servers: `${hostname}:${port || 4222}`, name, timeout: 5000 });
  } catch (error) {
    throw new FailedPreconditionError(`Cannot connect to NATS at ${url} (${(error as Error).message}); start nats-server with JetStream (-js) or fix WARDEN_NATS_URL.`);
  }
}

/**
 * Creates the stream if it does not exist, capturing `subjects`. A duplicate window lets the
 * server drop a message republished with the same message id (the event key) within 2 minutes.
 */
export async function ensureStream(manager: JetStreamManager, stream: string, subjects: string[]): Promise<void> {
  try {
    await manager.streams.info(stream);
  } catch {
    await manager.streams.add({ name: stream, subjects, duplicate_window: nanos(120_000) });
  }
}

export interface ConsumerSettings {
  stream: string;
  durable: string;
  /** Unacknowledged messages the server lets this consumer hold: the backpressure limit. */
  maxAckPending: number;
  /** Time the server waits for an acknowledgement before it redelivers, in milliseconds. */
  ackWaitMs: number;
  /** Only subjects matching this filter are delivered, such as `warden.events.>`. */
  filterSubject: string;
}

/**
 * Creates the durable pull consumer, or updates the settings of an existing one. Redelivery is
 * unlimited on the server: the consumer itself moves a message to the dead-letter table after its
 * configured number of deliveries, so a message is never dropped without a record.
 */
export async function ensureConsumer(manager: JetStreamManager, settings: ConsumerSettings): Promise<void> {
  const config = {
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(settings.ackWaitMs),
    max_ack_pending: settings.maxAckPending,
    max_deliver: -1,
    filter_subject: settings.filterSubject,
  };
  try {
    await manager.consumers.info(settings.stream, settings.durable);
    await manager.consumers.update(settings.stream, settings.durable, config);
  } catch (error) {
    if (!/consumer not found/i.test((error as Error).message)) throw error;
    await manager.consumers.add(settings.stream, { durable_name: settings.durable, deliver_policy: DeliverPolicy.All, ...config });
  }
}

export { jetstreamManager };
