import type { EntityManager } from 'typeorm';
import { ConflictError, type FieldError } from '../../common/src/index.js';
import { scrubPii } from '../../guardrails/src/index.js';
import type { DatasetDefinition } from './dataset-definition.js';
import type { DatasetRecord } from './record-validation.js';

/** Rows per multi-row INSERT: 500 rows of 8 parameters stay far below PostgreSQL's 65,535. */
const INSERT_CHUNK_ROWS = 500;

export interface BatchScope {
  batchId: string;
  tenant: string;
  dataset: string;
  datasetVersion: string;
}

export interface RecordRow {
  recordKey: string;
  record: DatasetRecord;
  /** SHA-256 (hex) of the record's RFC 8785 canonical JSON. */
  recordDigest: string;
}

export interface QuarantineRow {
  row: number;
  recordKey: string | null;
  /** The payload as received, or null when nothing could be kept. */
  payload: unknown;
  errors: FieldError[];
}

export interface BatchRow extends BatchScope {
  source: string;
  accepted: number;
  quarantined: number;
  duplicates: number;
  definitionHash: string;
  actor: string;
}

export interface StoredRecordRow {
  recordKey: string;
  datasetVersion: string;
  record: DatasetRecord;
  recordDigest: string;
}

/**
 * Registers a definition version, or checks that the registered one has the same hash. A version
 * registered with another hash raises ConflictError: a version's meaning must never change.
 */
export async function registerDataset(manager: EntityManager, definition: DatasetDefinition): Promise<void> {
  await manager.query(
    `INSERT INTO ingestion.datasets (name, version, definition, definition_hash)
     VALUES ($1, $2, $3::jsonb, $4)
     ON CONFLICT (name, version) DO NOTHING`,
    [definition.dataset, definition.version, JSON.stringify(definition.document), definition.definitionHash],
  );
  const rows: { definition_hash: string }[] = await manager.query(
    'SELECT definition_hash FROM ingestion.datasets WHERE name = $1 AND version = $2',
    [definition.dataset, definition.version],
  );
  if (rows[0]?.definition_hash !== definition.definitionHash) {
    throw new ConflictError(
      `Dataset ${definition.dataset} version ${definition.version} is already registered with a different definition; ` +
        `raise the version in ${definition.sourcePath} when you change the definition.`,
    );
  }
}

/**
 * Inserts records with ON CONFLICT DO NOTHING on (tenant, dataset, record_key), so a record key
 * that is already stored keeps its first record. Returns the keys that were inserted.
 */
export async function insertRecords(manager: EntityManager, scope: BatchScope, records: readonly RecordRow[]): Promise<Set<string>> {
  const inserted = new Set<string>();
  for (let start = 0; start < records.length; start += INSERT_CHUNK_ROWS) {
    const chunk = records.slice(start, start + INSERT_CHUNK_ROWS);
    const parameters: unknown[] = [scope.tenant, scope.dataset, scope.datasetVersion, scope.batchId];
    const tuples = chunk.map((record) => {
      parameters.push(record.recordKey, JSON.stringify(record.record), record.recordDigest);
      const base = parameters.length - 3;
      return `($1, $2, $${base + 1}, $3, $${base + 2}::jsonb, $${base + 3}, $4::uuid)`;
    });
    const rows: { record_key: string }[] = await manager.query(
      `INSERT INTO ingestion.records (tenant, dataset, record_key, dataset_version, record, record_digest, batch_id)
       VALUES ${tuples.join(', ')}
       ON CONFLICT (tenant, dataset, record_key) DO NOTHING
       RETURNING record_key`,
      parameters,
    );
    for (const row of rows) inserted.add(row.record_key);
  }
  return inserted;
}

/** Returns the stored digest of each of `keys` that the tenant's dataset holds. */
export async function storedDigests(manager: EntityManager, tenant: string, dataset: string, keys: readonly string[]): Promise<Map<string, string>> {
  const digests = new Map<string, string>();
  if (keys.length === 0) return digests;
  const rows: { record_key: string; record_digest: string }[] = await manager.query(
    'SELECT record_key, record_digest FROM ingestion.records WHERE tenant = $1 AND dataset = $2 AND record_key = ANY($3::text[])',
    [tenant, dataset, keys],
  );
  for (const row of rows) digests.set(row.record_key, row.record_digest);
  return digests;
}

export async function insertQuarantine(manager: EntityManager, scope: BatchScope, rows: readonly QuarantineRow[]): Promise<void> {
  for (let start = 0; start < rows.length; start += INSERT_CHUNK_ROWS) {
    const chunk = rows.slice(start, start + INSERT_CHUNK_ROWS);
    const parameters: unknown[] = [scope.batchId, scope.tenant, scope.dataset];
    const tuples = chunk.map((row) => {
      parameters.push(row.row, row.recordKey === null ? null : storableText(row.recordKey), jsonbParameter(row.payload), jsonbParameter(row.errors));
      const base = parameters.length - 4;
      return `($1::uuid, $2, $3, $${base + 1}::int, $${base + 2}, $${base + 3}::jsonb, $${base + 4}::jsonb)`;
    });
    await manager.query(
      `INSERT INTO ingestion.quarantine (batch_id, tenant, dataset, row_number, record_key, record, errors)
       VALUES ${tuples.join(', ')}`,
      parameters,
    );
  }
}

export async function insertBatch(manager: EntityManager, batch: BatchRow): Promise<void> {
  await manager.query(
    `INSERT INTO ingestion.batches
       (id, tenant, dataset, dataset_version, source, accepted, quarantined, duplicates, definition_hash, actor)
     VALUES ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      batch.batchId,
      batch.tenant,
      batch.dataset,
      batch.datasetVersion,
      batch.source,
      batch.accepted,
      batch.quarantined,
      batch.duplicates,
      batch.definitionHash,
      batch.actor,
    ],
  );
}

/**
 * Returns a tenant's stored records of a dataset ordered by record key. The byte-wise "C"
 * collation keeps the order the same on every server, whatever its default collation.
 */
export async function selectStoredRecords(manager: EntityManager, tenant: string, dataset: string): Promise<StoredRecordRow[]> {
  const rows: { record_key: string; dataset_version: string; record: DatasetRecord; record_digest: string }[] = await manager.query(
    `SELECT record_key, dataset_version, record, record_digest
       FROM ingestion.records
      WHERE tenant = $1 AND dataset = $2
      ORDER BY record_key COLLATE "C"`,
    [tenant, dataset],
  );
  return rows.map((row) => ({
    recordKey: row.record_key,
    datasetVersion: row.dataset_version,
    record: row.record,
    recordDigest: row.record_digest.trim(),
  }));
}

/**
 * Serializes a quarantined payload so that jsonb accepts it whatever the caller sent: U+0000 and
 * unpaired surrogates in keys and strings become U+FFFD, and nesting below MAX_STORED_DEPTH is
 * replaced by a marker string. Personal data in keys and strings is masked, because a rejected
 * record can carry it in any field. The stored copy is for people to inspect, never for replay.
 */
function jsonbParameter(payload: unknown): string | null {
  if (payload === undefined || payload === null) return null;
  return JSON.stringify(storableCopy(payload, 0));
}

const MAX_STORED_DEPTH = 32;

function storableCopy(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_STORED_DEPTH) return '[nested too deep to store]';
  if (Array.isArray(value)) return value.map((item) => storableCopy(item, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [storableText(key), storableCopy(item, depth + 1)]));
}

function storableText(text: string): string {
  return scrubPii(text.toWellFormed().replaceAll('\u0000', '\uFFFD'));
}
