import type { EntityManager } from 'typeorm';
import type { DocumentChunk } from './chunking.js';

/** Either a transaction's EntityManager or a DataSource: both run `query(sql, parameters)`. */
export type Queryable = Pick<EntityManager, 'query'>;

export interface CollectionRow {
  id: string;
  tenant: string;
  name: string;
  embedding_provider: string;
  embedding_model: string;
  dimension: number;
}

export interface DocumentRow {
  id: string;
  name: string;
  version: number;
  digest: string;
  chunk_count: number;
}

/** Scope of a search: one tenant and the collection ids the caller is entitled to (live chunks only). */
export interface SearchScope {
  tenant: string;
  collectionIds: string[];
}

export interface RankedChunk {
  id: string;
  /** Cosine similarity for the vector list, ts_rank_cd for the full-text list. */
  score: number;
}

export interface ChunkDetailRow {
  id: string;
  document_id: string;
  document_name: string;
  document_version: number;
  collection: string;
  citation: string;
  text: string;
  metadata: Record<string, unknown>;
}

const CHUNK_INSERT_BATCH = 100;

/** Dimensions with an HNSW expression index, as created by migration 1796342400900-Retrieval. */
export const INDEXED_DIMENSIONS: readonly number[] = [384, 512, 768, 1024, 1536];

export async function findCollection(queryable: Queryable, tenant: string, name: string, lock = false): Promise<CollectionRow | undefined> {
  const rows: CollectionRow[] = await queryable.query(
    `SELECT id, tenant, name, embedding_provider, embedding_model, dimension FROM retrieval.collections
      WHERE tenant = $1 AND name = $2${lock ? ' FOR UPDATE' : ''}`,
    [tenant, name],
  );
  return rows[0];
}

export async function insertCollection(manager: EntityManager, row: CollectionRow): Promise<void> {
  // ON CONFLICT: a concurrent first ingest may have created it; the caller reads it back locked.
  await manager.query(
    `INSERT INTO retrieval.collections (id, tenant, name, embedding_provider, embedding_model, dimension, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT (tenant, name) DO NOTHING`,
    [row.id, row.tenant, row.name, row.embedding_provider, row.embedding_model, row.dimension],
  );
}

/** Returns the current (not retired) version of a document and the highest version number ever stored. */
export async function findCurrentDocument(
  queryable: Queryable,
  collectionId: string,
  name: string,
): Promise<{ current: DocumentRow | undefined; maxVersion: number }> {
  const rows: Array<DocumentRow & { retired: boolean }> = await queryable.query(
    `SELECT id, name, version, digest, chunk_count, retired FROM retrieval.documents
      WHERE collection_id = $1 AND name = $2 ORDER BY version DESC`,
    [collectionId, name],
  );
  return { current: rows.find((row) => !row.retired), maxVersion: rows[0]?.version ?? 0 };
}

/** Retires a document version and its chunks: they stay stored for lineage but are no longer searched. Returns the chunk count. */
export async function retireDocument(manager: EntityManager, documentId: string): Promise<number> {
  await manager.query('UPDATE retrieval.documents SET retired = true, retired_at = now() WHERE id = $1', [documentId]);
  const rows: Array<{ n: number }> = await manager.query(
    'WITH retired AS (UPDATE retrieval.chunks SET retired = true WHERE document_id = $1 AND NOT retired RETURNING 1) SELECT count(*)::int AS n FROM retired',
    [documentId],
  );
  return rows[0].n;
}

export async function insertDocument(
  manager: EntityManager,
  row: { id: string; tenant: string; collectionId: string; name: string; version: number; digest: string; format: string; source: string; chunkCount: number },
): Promise<void> {
  await manager.query(
    `INSERT INTO retrieval.documents (id, tenant, collection_id, name, version, digest, format, source, chunk_count, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())`,
    [row.id, row.tenant, row.collectionId, row.name, row.version, row.digest, row.format, row.source, row.chunkCount],
  );
}

export async function setDocumentLedgerSeq(manager: EntityManager, documentId: string, seq: number): Promise<void> {
  await manager.query('UPDATE retrieval.documents SET ledger_seq = $2 WHERE id = $1', [documentId, seq]);
}

/** Inserts chunks with their embeddings in multi-row batches. */
export async function insertChunks(
  manager: EntityManager,
  scope: { tenant: string; collectionId: string; documentId: string; provider: string; model: string; dimension: number },
  chunks: readonly DocumentChunk[],
  embeddings: readonly number[][],
): Promise<void> {
  for (let start = 0; start < chunks.length; start += CHUNK_INSERT_BATCH) {
    const values: string[] = [];
    const parameters: unknown[] = [];
    chunks.slice(start, start + CHUNK_INSERT_BATCH).forEach((chunk, offset) => {
      const base = parameters.length;
      parameters.push(
        chunk.id,
        scope.tenant,
        scope.collectionId,
        scope.documentId,
        chunk.position,
        chunk.title,
        chunk.citation,
        chunk.text,
        JSON.stringify(chunk.metadata),
        scope.provider,
        scope.model,
        scope.dimension,
        vectorLiteral(embeddings[start + offset]),
      );
      const placeholders = Array.from({ length: 13 }, (_, index) => `$${base + index + 1}`);
      placeholders[8] += '::jsonb';
      placeholders[12] += '::vector';
      values.push(`(${placeholders.join(', ')}, now())`);
    });
    await manager.query(
      `INSERT INTO retrieval.chunks
         (id, tenant, collection_id, document_id, position, title, citation, text, metadata,
          embedding_provider, embedding_model, dimension, embedding, created_at)
       VALUES ${values.join(', ')}`,
      parameters,
    );
  }
}

/** Counts the live chunks a search scope covers. */
export async function countScope(queryable: Queryable, scope: SearchScope): Promise<number> {
  const rows: Array<{ n: number }> = await queryable.query(
    'SELECT count(*)::int AS n FROM retrieval.chunks WHERE tenant = $1 AND collection_id = ANY($2::uuid[]) AND NOT retired',
    [scope.tenant, scope.collectionIds],
  );
  return rows[0].n;
}

/**
 * Returns the `limit` chunks of the scope nearest to `embedding` by cosine distance, nearest first.
 * With `useIndex`, the query matches the HNSW expression index of its dimension, and the caller
 * must have enabled iterative index scans in the same transaction so that the tenant and
 * collection filter cannot empty the result. Without it, PostgreSQL computes every distance in
 * the scope (exact).
 */
export async function nearestChunks(queryable: Queryable, scope: SearchScope, embedding: readonly number[], limit: number, useIndex: boolean): Promise<RankedChunk[]> {
  const dimension = embedding.length;
  const indexed = useIndex && INDEXED_DIMENSIONS.includes(dimension);
  // The dimension is a whole number taken from the vector's length, never from caller input.
  const column = indexed ? `embedding::vector(${dimension})` : 'embedding';
  const query = indexed ? `$3::vector(${dimension})` : '$3::vector';
  const rows: Array<{ id: string; distance: number }> = await queryable.query(
    `WITH nearest AS MATERIALIZED (
       SELECT id, ${column} <=> ${query} AS distance
         FROM retrieval.chunks
        WHERE tenant = $1 AND collection_id = ANY($2::uuid[]) AND NOT retired AND dimension = ${Number(dimension)}
        ORDER BY ${column} <=> ${query}
        LIMIT $4
     )
     SELECT id, distance FROM nearest ORDER BY distance, id`,
    [scope.tenant, scope.collectionIds, vectorLiteral(embedding), limit],
  );
  return rows.map((row) => ({ id: row.id, score: 1 - Number(row.distance) }));
}

/**
 * Returns the `limit` chunks of the scope that best match the English full-text query, best
 * first. `websearchQuery` is websearch_to_tsquery syntax, which never raises a syntax error.
 *
 * PostgreSQL's ts_rank and ts_rank_cd have no inverse document frequency, so a chunk that repeats
 * one common word ("company", "2019") would outrank one that contains the rare words of the
 * question. The score is therefore the sum, over the distinct query lexemes a chunk contains,
 * of the lexeme's BM25 inverse document frequency ln(1 + (N - n + 0.5) / (n + 0.5)), where N is
 * the number of live chunks in the scope and n the number that contain the lexeme. ts_rank_cd
 * scaled to [0, 1) (normalization 32) is added to break ties by proximity.
 * NOTE: each query lexeme costs one GIN-index count over the scope, which grows with the scope.
 */
export async function textMatches(queryable: Queryable, scope: SearchScope, websearchQuery: string, limit: number): Promise<RankedChunk[]> {
  const rows: Array<{ id: string; rank: number }> = await queryable.query(
    `WITH q AS (
       SELECT websearch_to_tsquery('english', $3) AS query
     ), scoped AS (
       SELECT count(*)::float8 AS total FROM retrieval.chunks
        WHERE tenant = $1 AND collection_id = ANY($2::uuid[]) AND NOT retired
     ), terms AS (
       SELECT DISTINCT lexeme FROM unnest(tsvector_to_array(to_tsvector('english', replace($3, ' or ', ' ')))) AS lexeme
     ), weights AS MATERIALIZED (
       SELECT t.lexeme, ln(1 + (scoped.total - m.n + 0.5) / (m.n + 0.5)) AS idf
         FROM terms t CROSS JOIN scoped
         CROSS JOIN LATERAL (
           SELECT count(*)::float8 AS n FROM retrieval.chunks
            WHERE tenant = $1 AND collection_id = ANY($2::uuid[]) AND NOT retired
              AND search_vector @@ quote_literal(t.lexeme)::tsquery
         ) m
     )
     SELECT c.id,
            (SELECT coalesce(sum(w.idf), 0) FROM weights w WHERE w.lexeme = ANY(tsvector_to_array(c.search_vector)))
              + ts_rank_cd(c.search_vector, q.query, 32) AS rank
       FROM retrieval.chunks c, q
      WHERE c.tenant = $1 AND c.collection_id = ANY($2::uuid[]) AND NOT c.retired AND c.search_vector @@ q.query
      ORDER BY rank DESC, c.id
      LIMIT $4`,
    [scope.tenant, scope.collectionIds, websearchQuery, limit],
  );
  return rows.map((row) => ({ id: row.id, score: Number(row.rank) }));
}

/** Reads the chunks by id, again restricted to the scope, with their document and collection names. */
export async function chunkDetails(queryable: Queryable, scope: SearchScope, ids: readonly string[]): Promise<Map<string, ChunkDetailRow>> {
  if (ids.length === 0) return new Map();
  const rows: ChunkDetailRow[] = await queryable.query(
    `SELECT c.id, c.document_id, d.name AS document_name, d.version AS document_version, col.name AS collection,
            c.citation, c.text, c.metadata
       FROM retrieval.chunks c
       JOIN retrieval.documents d ON d.id = c.document_id
       JOIN retrieval.collections col ON col.id = c.collection_id
      WHERE c.id = ANY($1::text[]) AND c.tenant = $2 AND c.collection_id = ANY($3::uuid[]) AND NOT c.retired`,
    [ids, scope.tenant, scope.collectionIds],
  );
  return new Map(rows.map((row) => [row.id, row]));
}

/** Formats a vector as pgvector's text input, such as [0.1,0.2]. */
export function vectorLiteral(vector: readonly number[]): string {
  return `[${vector.join(',')}]`;
}
