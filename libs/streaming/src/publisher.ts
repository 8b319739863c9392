import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { parseFile, type DatasetDefinition, type SourceFormat } from '../../ingestion/src/index.js';
import { deriveEventFields } from './event-fields.js';

export interface PublishResult {
  subject: string;
  fileName: string;
  /** Messages the stream stored. */
  published: number;
  /** Messages the stream dropped because their message id (the event key) was seen within its duplicate window. */
  duplicates: number;
}

/** Publishes awaiting acknowledgement per window of this many messages. */
const PUBLISH_WINDOW = 256;

/**
 * Replays a CSV or JSONL file into a JetStream subject, one JSON record per message, in file
 * order. Rows get the event key and time that the dataset derives; the event key is also the
 * message id, so republishing within the stream's duplicate window stores nothing twice. Rows
 * that do not parse are published as they are, so the consumer quarantines them.
 */
export async function publishFile(
  connection: NatsConnection,
  subject: string,
  definition: DatasetDefinition,
  path: string,
  format?: SourceFormat,
): Promise<PublishResult> {
  const parsed = parseFile(path, definition, format);
  const client = jetstream(connection);
  const encoder = new TextEncoder();
  let published = 0;
  let duplicates = 0;

  for (let start = 0; start < parsed.rows.length; start += PUBLISH_WINDOW) {
    const window = parsed.rows.slice(start, start + PUBLISH_WINDOW).map((row) => deriveEventFields(definition, row));
    const acks = await Promise.all(
      window.map((row) => {
        const value = row.value;
        const key = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[definition.recordKey] : undefined;
        const data = encoder.encode(typeof value === 'string' ? value : JSON.stringify(value));
        return client.publish(subject, data, typeof key === 'string' ? { msgID: key } : undefined);
      }),
    );
    for (const ack of acks) {
      if (ack.duplicate) duplicates += 1;
      else published += 1;
    }
  }
  return { subject, fileName: parsed.fileName, published, duplicates };
}
