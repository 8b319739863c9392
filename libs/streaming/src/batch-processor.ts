import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { LedgerAppender } from '../../audit/src/index.js';
import { getLogger } from '../../common/src/index.js';
import {
  insertBatch,
  insertQuarantine,
  splitValidations,
  storeRecords,
  validateSourceRows,
  WHOLE_RECORD_FIELD,
  type BatchScope,
  type DatasetDefinition,
  type DatasetRecord,
  type SourceRow,
  type StoredRecordsListener,
} from '../../ingestion/src/index.js';

/** One delivered stream message, independent of the client library. */
export interface StreamMessage {
  subject: string;
  /** Sequence number of the message in its stream. */
  streamSeq: number;
  /** 1 on first delivery, higher on redelivery. */
  deliveryCount: number;
  data: Uint8Array;
}

/** Receives the records a batch stored for the first time, inside the batch's transaction. */
export type FeatureUpdater = StoredRecordsListener;

export interface StreamBatchSettings {
  tenant: string;
  /** Actor recorded with each batch and ledger entry, such as `stream:warden-ingest`. */
  actor: string;
  stream: string;
  consumer: string;
  /** Returns the dataset of a subject, or undefined when the subject names none. */
  datasetOf(subject: string): string | undefined;
  /** Returns the loaded definition of a dataset, or undefined. */
  definitionOf(dataset: string): DatasetDefinition | undefined;
}

/** Counts of one committed batch, over all its datasets. */
export interface BatchSummary {
  messages: number;
  accepted: number;
  duplicates: number;
  quarantined: number;
  /** Messages moved to the dead-letter table instead of being stored. */
  deadLettered: number;
  firstSeq: number;
  lastSeq: number;
}

/** Raised for a message that can never be processed, such as one on a subject with no dataset. */
export class UnprocessableMessageError extends Error {}

/** Largest stream sequence stored as a quarantine row number, which is a 32-bit integer column. */
const MAX_ROW_NUMBER = 2_147_483_647;

/**
 * Stores a batch of stream messages in one transaction: validation against the dataset
 * definition, records inserted idempotently by record key, invalid events quarantined, the
 * feature views updated with the newly stored records, a batch row and a ledger entry per
 * dataset. Nothing is acknowledged here: the consumer acknowledges after this returns.
 */
export class StreamBatchProcessor {
  private readonly log = getLogger('stream-ingestion');

  constructor(
    private readonly dataSource: DataSource,
    private readonly ledger: LedgerAppender,
    private readonly features: FeatureUpdater,
    private readonly settings: StreamBatchSettings,
  ) {}

  /** Processes all messages in one transaction; raises if any part fails, and then nothing is stored. */
  async process(messages: readonly StreamMessage[]): Promise<BatchSummary> {
    const groups = this.groupByDataset(messages);
    return this.dataSource.transaction(async (manager) => {
      const summary = emptySummary(messages);
      for (const [dataset, group] of groups) {
        const counts = await this.storeGroup(manager, dataset, group);
        summary.accepted += counts.accepted;
        summary.duplicates += counts.duplicates;
        summary.quarantined += counts.quarantined;
      }
      return summary;
    });
  }

  /**
   * Stores a message that failed too often in streaming.dead_letters with the reason, and
   * appends a ledger entry. A second call for the same message (a redelivery after a slow
   * acknowledgement) changes nothing and returns false.
   */
  async deadLetter(message: StreamMessage, reason: string): Promise<boolean> {
    const stored = await this.dataSource.transaction(async (manager) => {
      const rows: { id: string }[] = await manager.query(
        `INSERT INTO streaming.dead_letters (tenant, stream, consumer, subject, stream_seq, delivery_count, event_key, payload, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (stream, consumer, stream_seq) DO NOTHING
         RETURNING id`,
        [
          this.settings.tenant,
          this.settings.stream,
          this.settings.consumer,
          message.subject,
          message.streamSeq,
          message.deliveryCount,
          this.eventKeyOf(message),
          Buffer.from(message.data),
          reason,
        ],
      );
      if (rows.length === 0) return false;
      await this.ledger.append(manager, {
        type: 'stream.dead_letter',
        tenant: this.settings.tenant,
        actor: this.settings.actor,
        payload: { stream: this.settings.stream, consumer: this.settings.consumer, subject: message.subject, streamSeq: message.streamSeq, deliveryCount: message.deliveryCount, reason },
      });
      return true;
    });
    if (stored) {
      this.log.warn({ stream: this.settings.stream, streamSeq: message.streamSeq, deliveryCount: message.deliveryCount, reason }, 'stream message moved to the dead-letter table');
    }
    return stored;
  }

  private groupByDataset(messages: readonly StreamMessage[]): Map<string, StreamMessage[]> {
    const groups = new Map<string, StreamMessage[]>();
    for (const message of messages) {
      const dataset = this.settings.datasetOf(message.subject);
      if (dataset === undefined || !this.settings.definitionOf(dataset)) {
        throw new UnprocessableMessageError(`subject ${message.subject} names no defined dataset`);
      }
      const group = groups.get(dataset) ?? [];
      group.push(message);
      groups.set(dataset, group);
    }
    return groups;
  }

  private async storeGroup(manager: EntityManager, dataset: string, messages: readonly StreamMessage[]): Promise<{ accepted: number; duplicates: number; quarantined: number }> {
    const definition = this.settings.definitionOf(dataset) as DatasetDefinition;
    const scope: BatchScope = { batchId: randomUUID(), tenant: this.settings.tenant, dataset, datasetVersion: definition.version };

    // A message with the same bytes as an earlier one in the batch (published twice) is a duplicate.
    const seen = new Set<string>();
    const rows: SourceRow[] = [];
    let repeated = 0;
    for (const message of messages) {
      const text = Buffer.from(message.data).toString('utf8');
      if (seen.has(text)) {
        repeated += 1;
        continue;
      }
      seen.add(text);
      rows.push(decodeRow(message, text));
    }

    const { good, rejected } = splitValidations(validateSourceRows(definition, rows));
    const { inserted, duplicates, conflicts } = await storeRecords(manager, scope, definition.recordKey, good);
    const quarantine = [...rejected, ...conflicts].sort((a, b) => a.row - b.row);
    await insertQuarantine(manager, scope, quarantine);
    await this.features.applyRecords(
      manager,
      scope.tenant,
      dataset,
      good.filter((record) => inserted.has(record.recordKey)).map((record) => record.record),
      definition.recordKey,
    );

    const counts = { accepted: inserted.size, quarantined: quarantine.length, duplicates: duplicates + repeated };
    const source = `stream:${this.settings.stream}/${this.settings.consumer}`;
    await insertBatch(manager, { ...scope, source, ...counts, definitionHash: definition.definitionHash, actor: this.settings.actor });
    await this.ledger.append(manager, {
      type: 'ingestion.batch',
      tenant: scope.tenant,
      actor: this.settings.actor,
      payload: {
        batchId: scope.batchId,
        dataset,
        datasetVersion: definition.version,
        definitionHash: definition.definitionHash,
        source,
        streamSeqs: { first: messages[0].streamSeq, last: messages[messages.length - 1].streamSeq },
        ...counts,
      },
    });
    return counts;
  }

  private eventKeyOf(message: StreamMessage): string | null {
    const dataset = this.settings.datasetOf(message.subject);
    const definition = dataset === undefined ? undefined : this.settings.definitionOf(dataset);
    if (!definition) return null;
    try {
      const value = JSON.parse(Buffer.from(message.data).toString('utf8')) as Record<string, unknown>;
      const key = value?.[definition.recordKey];
      return typeof key === 'string' && key.length <= 256 ? key : null;
    } catch {
      return null;
    }
  }
}

/** Decodes one message as a JSON record; a message that is not JSON becomes a row with a parse error. */
function decodeRow(message: StreamMessage, text: string): SourceRow {
  const row = message.streamSeq <= MAX_ROW_NUMBER ? message.streamSeq : 0;
  try {
    return { row, value: JSON.parse(text) };
  } catch {
    return {
      row,
      value: text,
      parseErrors: [{ field: WHOLE_RECORD_FIELD, message: `stream message ${message.streamSeq} is not valid JSON; publish one JSON object per message` }],
    };
  }
}

function emptySummary(messages: readonly StreamMessage[]): BatchSummary {
  return {
    messages: messages.length,
    accepted: 0,
    duplicates: 0,
    quarantined: 0,
    deadLettered: 0,
    firstSeq: messages[0]?.streamSeq ?? 0,
    lastSeq: messages[messages.length - 1]?.streamSeq ?? 0,
  };
}
