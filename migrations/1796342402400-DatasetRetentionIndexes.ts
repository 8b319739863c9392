import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexesConcurrently, type ConcurrentIndex } from './concurrent-index.js';

const INDEXES: ConcurrentIndex[] = [
  { schema: 'ingestion', name: 'records_tenant_dataset_ingested', definition: 'ON ingestion.records (tenant, dataset, ingested_at)' },
  { schema: 'streaming', name: 'dead_letters_tenant_time', definition: 'ON streaming.dead_letters (tenant, created_at)' },
  { schema: 'feature_store', name: 'bucket_stats_tenant_view_bucket', definition: 'ON feature_store.bucket_stats (tenant, view, bucket_start)' },
  { schema: 'feature_store', name: 'bucket_values_tenant_view_bucket', definition: 'ON feature_store.bucket_values (tenant, view, bucket_start)' },
];

/**
 * Indexes for the dataset rules of the retention purge, which deletes a tenant's rows of one
 * dataset older than a cutoff in batches. Without them each batch would read every row of the
 * tenant's dataset or feature view. ingestion.quarantine already has (tenant, dataset, created_at).
 * The two feature-store indexes add one index entry per new entity and bucket to the event path.
 *
 * The tables grow with every ingested event, so the indexes are built concurrently, outside a
 * transaction: stream ingestion keeps writing while a large database upgrades.
 */
export class DatasetRetentionIndexes1796342402400 implements MigrationInterface {
  name = 'DatasetRetentionIndexes1796342402400';
  transaction = false;

  async up(queryRunner: QueryRunner): Promise<void> {
    await createIndexesConcurrently(queryRunner, INDEXES);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const index of [...INDEXES].reverse()) await queryRunner.query(`DROP INDEX CONCURRENTLY IF EXISTS ${index.schema}.${index.name}`);
  }
}
