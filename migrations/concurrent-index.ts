import type { QueryRunner } from 'typeorm';

/** One index that a migration builds with CREATE INDEX CONCURRENTLY. */
export interface ConcurrentIndex {
  /** The schema of the table, where PostgreSQL puts the index. */
  schema: string;
  name: string;
  /** The part after the index name: `ON schema.table (columns)`, with any WHERE clause. */
  definition: string;
}

/**
 * Builds indexes without blocking writes to their tables, for a migration with `transaction =
 * false`. A plain CREATE INDEX holds a SHARE lock for the whole build, which on a large table stops
 * every insert for as long. The concurrent build waits for transactions that were open when it
 * started, but lets new inserts through.
 *
 * A build that fails or is interrupted leaves an invalid index that PostgreSQL keeps up to date
 * but never reads. The next run drops such an index and builds it again, and skips a valid one,
 * so a migration interrupted after some of its indexes can run again. Each statement is sent on
 * its own, because PostgreSQL rejects CONCURRENTLY inside a transaction block.
 */
export async function createIndexesConcurrently(queryRunner: QueryRunner, indexes: readonly ConcurrentIndex[]): Promise<void> {
  for (const index of indexes) {
    const qualified = `${index.schema}.${index.name}`;
    const [existing]: { valid: boolean }[] = await queryRunner.query(
      `SELECT i.indisvalid AS valid
         FROM pg_catalog.pg_index i
         JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2`,
      [index.schema, index.name],
    );
    if (existing?.valid) continue;
    if (existing) await queryRunner.query(`DROP INDEX CONCURRENTLY ${qualified}`);
    await queryRunner.query(`CREATE INDEX CONCURRENTLY ${index.name} ${index.definition}`);
  }
}
