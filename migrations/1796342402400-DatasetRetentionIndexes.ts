import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the dataset rules of the retention purge, which deletes a tenant's rows of one
 * dataset older than a cutoff in batches. Without them each batch would read every row of the
 * tenant's dataset or feature view. ingestion.quarantine already has (tenant, dataset, created_at).
 * The two feature-store indexes add one index entry per new entity and bucket to the event path.
 */
export class DatasetRetentionIndexes1796342402400 implements MigrationInterface {
  name = 'DatasetRetentionIndexes1796342402400';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX records_tenant_dataset_ingested ON ingestion.records (tenant, dataset, ingested_at)');
    await queryRunner.query('CREATE INDEX dead_letters_tenant_time ON streaming.dead_letters (tenant, created_at)');
    await queryRunner.query('CREATE INDEX bucket_stats_tenant_view_bucket ON feature_store.bucket_stats (tenant, view, bucket_start)');
    await queryRunner.query('CREATE INDEX bucket_values_tenant_view_bucket ON feature_store.bucket_values (tenant, view, bucket_start)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX feature_store.bucket_values_tenant_view_bucket');
    await queryRunner.query('DROP INDEX feature_store.bucket_stats_tenant_view_bucket');
    await queryRunner.query('DROP INDEX streaming.dead_letters_tenant_time');
    await queryRunner.query('DROP INDEX ingestion.records_tenant_dataset_ingested');
  }
}
