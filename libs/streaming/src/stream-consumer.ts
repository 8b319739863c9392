import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { getLogger } from '../../common/src/index.js';
import { UnprocessableMessageError, type BatchSummary, type StreamBatchProcessor, type StreamMessage } from './batch-processor.js';
import { ensureConsumer, type ConsumerSettings } from './jetstream.js';

export interface StreamConsumerOptions extends Omit<ConsumerSettings, 'maxAckPending'> {
  /** Messages fetched, stored in one transaction and then acknowledged together. */
  batchSize: number;
  /** Batches processed at the same time; maxAckPending is batchSize times this. */
  maxInFlightBatches: number;
  /** Deliveries after which a message that still fails goes to the dead-letter table. */
  maxDeliver: number;
  /** Delay before the server redelivers a message that failed, in milliseconds. */
  retryDelayMs: number;
  /**
   * Called after a batch (or a dead-letter write) commits and before it is acknowledged. If it raises, the consumer stops
   * without acknowledging, as after a crash: the server redelivers the batch, which is then
   * recognized as duplicates.
   */
  onBatchCommitted?: (summary: BatchSummary) => void | Promise<void>;
}

/** Outstanding messages of a durable consumer, read from the server. */
export interface ConsumerLag {
  /** Messages in the stream not yet delivered to this consumer. */
  pending: number;
  /** Messages delivered and not yet acknowledged. */
  ackPending: number;
}

/**
 * A JetStream durable pull consumer that feeds batches to a StreamBatchProcessor. It acknowledges
 * a batch only after its transaction commits, so a crash at any point loses nothing: unacknowledged
 * messages are redelivered after ackWait, and records stored before the crash come back as
 * duplicates. A batch that fails is retried message by message, so one bad message cannot block
 * the others; a message that keeps failing goes to the dead-letter table after maxDeliver tries.
 */
/**
 * Fetches in a row that may fail before the consumer stops with the last error. A failed fetch
 * takes no message, so the ones waiting stay on the server for the next fetch or consumer.
 */
export const MAX_FETCH_FAILURES = 5;

/** Maximum wait between two failed fetches, in milliseconds. */
const MAX_FETCH_RETRY_MS = 5_000;

export class StreamConsumer {
  private readonly log = getLogger('stream-consumer');
  private consumer: Consumer | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: Error | undefined;
  readonly totals = { messages: 0, accepted: 0, duplicates: 0, quarantined: 0, deadLettered: 0, batches: 0 };

  constructor(
    private readonly connection: NatsConnection,
    private readonly processor: StreamBatchProcessor,
    private readonly options: StreamConsumerOptions,
  ) {}

  /** Creates or updates the durable consumer and starts fetching. */
  async start(): Promise<void> {
    const manager = await jetstreamManager(this.connection);
    await ensureConsumer(manager, { ...this.options, maxAckPending: this.options.batchSize * this.options.maxInFlightBatches });
    this.consumer = await jetstream(this.connection).consumers.get(this.options.stream, this.options.durable);
    this.log.info({ stream: this.options.stream, consumer: this.options.durable, batchSize: this.options.batchSize }, 'stream consumer started');
    this.running = this.loop();
  }

  /** Stops fetching and waits for the batches in flight; set when the loop ended by an error. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    this.log.info({ ...this.totals }, 'stream consumer stopped');
  }

  /** The error that ended the loop, if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Reads the consumer's lag from the server. */
  async lag(): Promise<ConsumerLag> {
    const info = await (this.consumer as Consumer).info();
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  }

  /** Resolves once `predicate` holds for the totals, polling every 20 ms; for tests and the CLI. */
  async waitFor(predicate: (totals: StreamConsumer['totals']) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (predicate(this.totals)) return true;
      if (this.failure || (this.running && this.stopping)) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return predicate(this.totals);
  }

  private async loop(): Promise<void> {
    const consumer = this.consumer as Consumer;
    try {
      let fetchFailures = 0;
      while (!this.stopping) {
        let messages: JsMsg[];
        try {
          messages = await this.fetchBatch(consumer);
          fetchFailures = 0;
        } catch (error) {
          // A server restart or a leader change fails a fetch or two, so the consumer waits and fetches again.
          fetchFailures += 1;
          if (fetchFailures >= MAX_FETCH_FAILURES) throw error;
          const waitMs = Math.min(MAX_FETCH_RETRY_MS, this.options.retryDelayMs * 2 ** fetchFailures);
          this.log.warn({ err: error, consumer: this.options.durable, failures: fetchFailures, waitMs }, 'stream fetch failed, so the consumer fetches again');
          await new Promise((resolve) => setTimeout(resolve, waitMs));
          continue;
        }
        if (this.stopping) {
          // Not processed: left unacknowledged for redelivery to the next consumer.
          break;
        }
        if (messages.length === 0) continue;
        const task = this.handleBatch(messages).finally(() => this.inFlight.delete(task));
        this.inFlight.add(task);
        if (this.inFlight.size >= this.options.maxInFlightBatches) await Promise.race(this.inFlight);
      }
    } catch (error) {
      this.failure = error as Error;
      this.log.error({ err: error, consumer: this.options.durable }, 'stream consumer stopped by an error');
    }
    this.stopping = true;
    await Promise.allSettled(this.inFlight);
  }

  private async fetchBatch(consumer: Consumer): Promise<JsMsg[]> {
    const batch: JsMsg[] = [];
    const iterator = await consumer.fetch({ max_messages: this.options.batchSize, expires: 1000 });
    for await (const message of iterator) batch.push(message);
    return batch;
  }

  private async handleBatch(messages: JsMsg[]): Promise<void> {
    const items = messages.map(toStreamMessage);
    let summary: BatchSummary;
    try {
      summary = await this.processor.process(items);
    } catch (error) {
      this.log.warn({ err: error, messages: items.length, firstSeq: items[0].streamSeq }, 'stream batch failed; retrying its messages one by one');
      await this.handleOneByOne(messages);
      return;
    }
    await this.finishBatch(messages, summary);
  }

  private async finishBatch(messages: JsMsg[], summary: BatchSummary): Promise<void> {
    try {
      await this.options.onBatchCommitted?.(summary);
    } catch (error) {
      this.failure = error as Error;
      this.stopping = true;
      this.log.error({ err: error, firstSeq: summary.firstSeq }, 'batch callback failed; stopping without acknowledging the batch');
      return;
    }
    for (const message of messages) message.ack();
    this.count(summary);
  }

  private async handleOneByOne(messages: JsMsg[]): Promise<void> {
    for (const message of messages) {
      // After a failed callback the rest stays unacknowledged, for redelivery to the next consumer.
      if (this.failure) return;
      const item = toStreamMessage(message);
      try {
        const summary = await this.processor.process([item]);
        await this.finishBatch([message], summary);
      } catch (error) {
        const reason = describeFailure(error);
        const unprocessable = error instanceof UnprocessableMessageError;
        if (!unprocessable && item.deliveryCount < this.options.maxDeliver) {
          this.log.warn({ streamSeq: item.streamSeq, deliveryCount: item.deliveryCount, reason }, 'stream message failed; the server will redeliver it');
          message.nak(this.options.retryDelayMs);
          continue;
        }
        let stored: boolean;
        try {
          stored = await this.processor.deadLetter(item, reason);
        } catch (deadLetterError) {
          this.log.error({ err: deadLetterError, streamSeq: item.streamSeq }, 'dead-letter write failed; the server will redeliver the message');
          message.nak(this.options.retryDelayMs);
          continue;
        }
        // A redelivered message that is already a dead letter is acknowledged again but not counted twice.
        const deadLettered = stored ? 1 : 0;
        await this.finishBatch([message], { messages: 1, accepted: 0, duplicates: 0, quarantined: 0, deadLettered, firstSeq: item.streamSeq, lastSeq: item.streamSeq });
      }
    }
  }

  private count(summary: BatchSummary): void {
    this.totals.messages += summary.messages;
    this.totals.accepted += summary.accepted;
    this.totals.duplicates += summary.duplicates;
    this.totals.quarantined += summary.quarantined;
    this.totals.deadLettered += summary.deadLettered;
    this.totals.batches += 1;
  }
}

function toStreamMessage(message: JsMsg): StreamMessage {
  return { subject: message.subject, streamSeq: message.seq, deliveryCount: message.info.deliveryCount, data: message.data };
}

/** A short reason for the dead-letter table: the error's class and message, never a stack. */
function describeFailure(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 500 ? `${text.slice(0, 500)}...` : text;
}
