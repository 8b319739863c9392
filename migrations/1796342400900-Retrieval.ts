import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Embedding dimensions that get an HNSW index. HNSW needs a fixed dimension, while the chunks
 * table stores embeddings of any dimension, so each index covers the rows of one dimension through
 * an expression `embedding::vector(N)` and a partial predicate. These are the sizes of Warden's
 * lexical embedder (512) and of common sentence-embedding models (384, 768, 1024, 1536).
 * Other dimensions still work: their searches scan the collection exactly.
 */
export const RETRIEVAL_INDEXED_DIMENSIONS = [384, 512, 768, 1024, 1536] as const;

/**
 * Creates the retrieval schema: collections of documents per tenant, the versions of each
 * document, and their chunks with an embedding and an English full-text vector. Chunks of an
 * older document version are retired (kept, but not searched), so decisions that cited them can
 * still be explained; triggers reject deleting chunks or document versions.
 */
export class Retrieval1796342400900 implements MigrationInterface {
  name = 'Retrieval1796342400900';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS retrieval');
    await queryRunner.query(`
      CREATE FUNCTION retrieval.reject_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'retrieval history is kept: % on %.% is not allowed; retire the document version instead', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);

    // The embedder of a collection is fixed by its first ingest: vectors of different models
    // or sizes cannot be compared, so a collection never mixes them.
    await queryRunner.query(`
      CREATE TABLE retrieval.collections (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        name text NOT NULL,
        embedding_provider text NOT NULL,
        embedding_model text NOT NULL,
        dimension integer NOT NULL CHECK (dimension BETWEEN 1 AND 16000),
        created_at timestamptz NOT NULL,
        UNIQUE (tenant, name)
      )`);

    await queryRunner.query(`
      CREATE TABLE retrieval.documents (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        collection_id uuid NOT NULL REFERENCES retrieval.collections (id),
        name text NOT NULL,
        version integer NOT NULL CHECK (version >= 1),
        digest text NOT NULL,
        format text NOT NULL CHECK (format IN ('markdown', 'text', 'jsonl')),
        source text NOT NULL,
        chunk_count integer NOT NULL,
        retired boolean NOT NULL DEFAULT false,
        retired_at timestamptz,
        -- Set in the ingest transaction once the docs.ingested entry is appended.
        ledger_seq bigint,
        created_at timestamptz NOT NULL,
        UNIQUE (collection_id, name, version)
      )`);
    await queryRunner.query('CREATE UNIQUE INDEX retrieval_documents_current ON retrieval.documents (collection_id, name) WHERE NOT retired');

    await queryRunner.query(`
      CREATE TABLE retrieval.chunks (
        id text PRIMARY KEY,
        tenant text NOT NULL,
        collection_id uuid NOT NULL REFERENCES retrieval.collections (id),
        document_id uuid NOT NULL REFERENCES retrieval.documents (id),
        position integer NOT NULL,
        title text,
        citation text NOT NULL,
        text text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        embedding_provider text NOT NULL,
        embedding_model text NOT NULL,
        dimension integer NOT NULL,
        embedding vector NOT NULL,
        search_vector tsvector GENERATED ALWAYS AS (
          to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || citation || ' ' || text)
        ) STORED,
        retired boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL,
        CHECK (vector_dims(embedding) = dimension)
      )`);
    await queryRunner.query('CREATE INDEX retrieval_chunks_scope ON retrieval.chunks (collection_id, tenant) WHERE NOT retired');
    await queryRunner.query('CREATE INDEX retrieval_chunks_document ON retrieval.chunks (document_id)');
    await queryRunner.query('CREATE INDEX retrieval_chunks_search_vector ON retrieval.chunks USING gin (search_vector)');
    for (const dimension of RETRIEVAL_INDEXED_DIMENSIONS) {
      await queryRunner.query(
        `CREATE INDEX retrieval_chunks_embedding_${dimension} ON retrieval.chunks
           USING hnsw ((embedding::vector(${dimension})) vector_cosine_ops) WHERE dimension = ${dimension}`,
      );
    }

    for (const table of ['documents', 'chunks']) {
      await queryRunner.query(`
        CREATE TRIGGER ${table}_keep BEFORE DELETE OR TRUNCATE ON retrieval.${table}
        FOR EACH STATEMENT EXECUTE FUNCTION retrieval.reject_delete()`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP SCHEMA IF EXISTS retrieval CASCADE');
  }
}
