import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { LedgerAppender, LedgerReceipt } from '../../audit/src/index.js';
import { BadUserInputError, digestJson, type FieldError, getLogger, NotFoundError, requestContext } from '../../common/src/index.js';
import { loadDatasetDefinitions, type DatasetDefinition, type SourceFormat } from './dataset-definition.js';
import { parseFile } from './file-parsers.js';
import {
  insertBatch,
  insertQuarantine,
  insertRecords,
  registerDataset,
  selectStoredRecords,
  storedDigests,
  type BatchScope,
  type QuarantineRow,
  type RecordRow,
} from './ingestion.repository.js';
import { quoteShort, validateSourceRows, type DatasetRecord, type RecordValidation, type SourceRow } from './record-validation.js';

/** Most quarantine details an ingestion result lists; `quarantined` always gives the full count. */
export const MAX_QUARANTINE_DETAILS = 100;

export interface IngestCommand {
  tenant: string;
  /** Subject of the token that sent the batch, or `system`. */
  actor: string;
  dataset: string;
  /** One JSON object per record; `records[i]` is reported as row `i + 1`. */
  records: readonly unknown[];
  /** Origin of the batch, such as `api` or `demo`, stored with the batch and in the ledger. */
  source: string;
}

export interface IngestFileCommand {
  tenant: string;
  actor: string;
  dataset: string;
  path: string;
  /** Overrides the format that the file extension implies. */
  format?: SourceFormat;
}

export interface QuarantineDetail {
  /** The record's 1-based position: the line number for files, the array index + 1 otherwise. */
  row: number;
  recordKey: string | null;
  errors: FieldError[];
}

export interface IngestionResult {
  batchId: string;
  dataset: string;
  datasetVersion: string;
  definitionHash: string;
  /** Records newly stored by this batch. */
  accepted: number;
  /** Records rejected by validation or by a key conflict, kept in the quarantine table. */
  quarantined: number;
  /** Records identical to one the tenant already stored under the same key. */
  duplicates: number;
  /** The first MAX_QUARANTINE_DETAILS quarantined rows, in row order. */
  quarantine: QuarantineDetail[];
  ledger: LedgerReceipt;
}

/** A tenant's stored records of one dataset, ready for training. */
export interface TrainingRows {
  dataset: string;
  /** Definition versions the records were validated under, sorted. */
  datasetVersions: string[];
  rowCount: number;
  /** Records ordered by record key (byte order). */
  records: DatasetRecord[];
  /** SHA-256 over the ordered (record key, record digest) pairs: names exactly this training set. */
  dataDigest: string;
}

/**
 * Receives the records that a batch stored for the first time, inside the batch's transaction,
 * such as the feature store updating its aggregates. Duplicates are never passed.
 */
export interface StoredRecordsListener {
  /** `recordKeyField` names the dataset's record key field, whose value every record carries. */
  applyRecords(manager: EntityManager, tenant: string, dataset: string, records: readonly DatasetRecord[], recordKeyField: string): Promise<void>;
}

interface FileSource {
  fileName: string;
  sha256: string;
  format: SourceFormat;
}

/**
 * Validates batches of records against the dataset definitions in `<policyDir>/datasets`, stores
 * the good ones, quarantines the rest and records each batch in the ledger, all in one
 * transaction: when `ingest` returns, the records, quarantine rows, batch row and ledger entry
 * are committed together.
 */
export class IngestionService {
  private readonly log = getLogger('ingestion');
  private readonly definitions: Map<string, DatasetDefinition>;
  private storedRecordsListener: StoredRecordsListener | undefined;

  constructor(
    private readonly dataSource: DataSource,
    policyDir: string,
    private readonly ledger: LedgerAppender,
  ) {
    this.definitions = loadDatasetDefinitions(policyDir);
  }

  /** Sets the listener that every batch passes its newly stored records to, in its transaction. */
  useStoredRecordsListener(listener: StoredRecordsListener): void {
    this.storedRecordsListener = listener;
  }

  /** Returns the current definition of a dataset, or raises NotFoundError. */
  getDefinition(dataset: string): DatasetDefinition {
    const definition = this.definitions.get(dataset);
    if (!definition) {
      const known = [...this.definitions.keys()].sort().join(', ') || 'none';
      const shown = dataset.length > 64 ? `${dataset.slice(0, 64)}...` : dataset;
      throw new NotFoundError(`Dataset ${shown} is not defined; defined datasets: ${known}.`);
    }
    return definition;
  }

  listDefinitions(): DatasetDefinition[] {
    return [...this.definitions.values()].sort((a, b) => a.dataset.localeCompare(b.dataset));
  }

  /** Registers every loaded definition version; ConflictError if a version's hash changed. */
  async registerDatasets(): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      for (const definition of this.listDefinitions()) await registerDataset(manager, definition);
    });
  }

  async ingest(command: IngestCommand): Promise<IngestionResult> {
    checkCommand(command, ['tenant', 'actor', 'dataset', 'source']);
    if (!Array.isArray(command.records) || command.records.length === 0) {
      throw new BadUserInputError('The batch has no records.', [
        { field: 'records', message: 'records must be a non-empty array of record objects' },
      ]);
    }
    const definition = this.getDefinition(command.dataset);
    const rows = command.records.map((value, index) => ({ row: index + 1, value }));
    return this.ingestRows(command, definition, rows, command.source, undefined);
  }

  /**
   * Ingests a file from the local file system. Only for trusted callers such as the CLI: the
   * path is read as given.
   */
  async ingestFile(command: IngestFileCommand): Promise<IngestionResult> {
    checkCommand(command, ['tenant', 'actor', 'dataset', 'path']);
    const definition = this.getDefinition(command.dataset);
    const parsed = parseFile(command.path, definition, command.format);
    if (parsed.rows.length === 0) {
      throw new BadUserInputError(`${parsed.fileName} has no data rows.`, [
        { field: 'path', message: `path ${parsed.fileName} contains no data rows; check that it is the right file` },
      ]);
    }
    const file: FileSource = { fileName: parsed.fileName, sha256: parsed.sha256, format: parsed.format };
    return this.ingestRows(command, definition, parsed.rows, `file:${parsed.fileName}`, file);
  }

  /** Returns the tenant's stored records of a dataset, ordered by record key, for training. */
  async loadTrainingRows(tenant: string, dataset: string): Promise<TrainingRows> {
    checkCommand({ tenant, dataset }, ['tenant', 'dataset']);
    this.getDefinition(dataset);
    const stored = await selectStoredRecords(this.dataSource.manager, tenant, dataset);
    return {
      dataset,
      datasetVersions: [...new Set(stored.map((row) => row.datasetVersion))].sort(),
      rowCount: stored.length,
      records: stored.map((row) => row.record),
      dataDigest: digestJson(stored.map((row) => [row.recordKey, row.recordDigest])),
    };
  }

  private async ingestRows(
    command: { tenant: string; actor: string; dataset: string },
    definition: DatasetDefinition,
    rows: readonly SourceRow[],
    source: string,
    file: FileSource | undefined,
  ): Promise<IngestionResult> {
    const batchId = randomUUID();
    const scope: BatchScope = { batchId, tenant: command.tenant, dataset: definition.dataset, datasetVersion: definition.version };
    // Inside a request the logger's request context already adds tenant and actor to every line.
    const caller = requestContext.getStore() ? {} : { tenant: command.tenant, actor: command.actor };
    const log = this.log.child({ batchId, ...caller, dataset: definition.dataset });
    log.info({ rows: rows.length, source }, 'ingestion batch started');

    const validations = validateSourceRows(definition, rows);
    const { good, rejected } = splitValidations(validations);

    try {
      const outcome = await this.dataSource.transaction(async (manager) => {
        await registerDataset(manager, definition);
        const { inserted, duplicates, conflicts } = await storeRecords(manager, scope, definition.recordKey, good);
        const stored = good.filter((record) => inserted.has(record.recordKey)).map((record) => record.record);
        await this.storedRecordsListener?.applyRecords(manager, command.tenant, definition.dataset, stored, definition.recordKey);
        const quarantine = [...rejected, ...conflicts].sort((a, b) => a.row - b.row);
        await insertQuarantine(manager, scope, quarantine);

        const counts = { accepted: good.length - duplicates - conflicts.length, quarantined: quarantine.length, duplicates };
        await insertBatch(manager, { ...scope, source, ...counts, definitionHash: definition.definitionHash, actor: command.actor });
        const ledger = await this.appendLedgerEntry(manager, command, scope, definition, source, counts, file);
        return { counts, quarantine, ledger };
      });

      log.info({ ...outcome.counts, ledgerSeq: outcome.ledger.seq }, 'ingestion batch committed');
      return {
        batchId,
        dataset: definition.dataset,
        datasetVersion: definition.version,
        definitionHash: definition.definitionHash,
        ...outcome.counts,
        quarantine: outcome.quarantine.slice(0, MAX_QUARANTINE_DETAILS).map(({ row, recordKey, errors }) => ({ row, recordKey, errors })),
        ledger: outcome.ledger,
      };
    } catch (error) {
      log.error({ err: error }, 'ingestion batch rolled back');
      throw error;
    }
  }

  private appendLedgerEntry(
    manager: EntityManager,
    command: { tenant: string; actor: string },
    scope: BatchScope,
    definition: DatasetDefinition,
    source: string,
    counts: { accepted: number; quarantined: number; duplicates: number },
    file: FileSource | undefined,
  ): Promise<LedgerReceipt> {
    // Counts and provenance only: record data stays in the ingestion tables.
    const payload: Record<string, unknown> = {
      batchId: scope.batchId,
      dataset: scope.dataset,
      datasetVersion: scope.datasetVersion,
      definitionHash: definition.definitionHash,
      source,
      ...counts,
    };
    if (file) payload.sourceFile = { name: file.fileName, sha256: file.sha256, format: file.format };
    return this.ledger.append(manager, { type: 'ingestion.batch', tenant: command.tenant, actor: command.actor, payload });
  }
}

/** Splits validation results into records to store and rows to quarantine. */
export function splitValidations(validations: readonly RecordValidation[]): { good: (RecordRow & { row: number })[]; rejected: QuarantineRow[] } {
  const good: (RecordRow & { row: number })[] = [];
  const rejected: QuarantineRow[] = [];
  for (const validation of validations) {
    if (validation.ok) {
      good.push({ row: validation.row, recordKey: validation.recordKey, record: validation.record, recordDigest: digestJson(validation.record) });
    } else {
      rejected.push({ row: validation.row, recordKey: validation.recordKey, payload: validation.payload, errors: validation.errors });
    }
  }
  return { good, rejected };
}

/**
 * Inserts the valid records and returns the keys it inserted. A key that is already stored counts
 * as a duplicate when the stored record has the same digest, and is quarantined when it differs,
 * because ingestion never overwrites a stored record.
 */
export async function storeRecords(
  manager: EntityManager,
  scope: BatchScope,
  keyField: string,
  good: readonly (RecordRow & { row: number })[],
): Promise<{ inserted: Set<string>; duplicates: number; conflicts: QuarantineRow[] }> {
  const inserted = await insertRecords(manager, scope, good);
  const skipped = good.filter((record) => !inserted.has(record.recordKey));
  const digests = await storedDigests(
    manager,
    scope.tenant,
    scope.dataset,
    skipped.map((record) => record.recordKey),
  );

  let duplicates = 0;
  const conflicts: QuarantineRow[] = [];
  for (const record of skipped) {
    if (digests.get(record.recordKey)?.trim() === record.recordDigest) {
      duplicates += 1;
      continue;
    }
    const message = `${keyField} ${quoteShort(record.recordKey)} is already stored with different content; a stored record is never overwritten, so send the corrected record under a new key`;
    conflicts.push({ row: record.row, recordKey: record.recordKey, payload: record.record, errors: [{ field: keyField, message }] });
  }
  return { inserted, duplicates, conflicts };
}

function checkCommand<T extends object>(command: T, fields: (keyof T & string)[]): void {
  const errors: FieldError[] = [];
  for (const field of fields) {
    const value = (command as Record<string, unknown>)[field];
    if (typeof value !== 'string' || value.trim() === '') {
      errors.push({ field, message: `${field} must be a non-empty string` });
    }
  }
  if (errors.length > 0) throw new BadUserInputError(`Invalid ingestion request: ${errors.map((error) => error.field).join(', ')}.`, errors);
}
