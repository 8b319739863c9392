import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the feature store (view registry, per-bucket partial aggregates, distinct values per
 * bucket, backfill checkpoints) and the dead-letter table of stream ingestion.
 */
export class FeatureStore1796342401200 implements MigrationInterface {
  name = 'FeatureStore1796342401200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS feature_store');
    await queryRunner.query(`
      CREATE TABLE feature_store.views (
        name text NOT NULL,
        version text NOT NULL,
        definition jsonb NOT NULL,
        definition_hash char(64) NOT NULL,
        registered_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, version)
      )`);
    // One row per entity, bucket and summed field; field '*' counts events when the view sums no
    // required field. Sums, minimums and maximums are numeric, so incremental updates and a
    // recomputation agree to the last digit. Keys compare bytewise (COLLATE "C"), which makes
    // the upserts of every event cheaper than with a linguistic collation.
    await queryRunner.query(`
      CREATE TABLE feature_store.bucket_stats (
        tenant text COLLATE "C" NOT NULL,
        view text COLLATE "C" NOT NULL,
        view_version text COLLATE "C" NOT NULL,
        entity_key text COLLATE "C" NOT NULL,
        bucket_start timestamptz NOT NULL,
        field text COLLATE "C" NOT NULL,
        event_count bigint NOT NULL,
        value_sum numeric,
        value_min numeric,
        value_max numeric,
        PRIMARY KEY (tenant, view, view_version, entity_key, bucket_start, field)
      )`);
    await queryRunner.query(`
      CREATE TABLE feature_store.bucket_values (
        tenant text COLLATE "C" NOT NULL,
        view text COLLATE "C" NOT NULL,
        view_version text COLLATE "C" NOT NULL,
        entity_key text COLLATE "C" NOT NULL,
        bucket_start timestamptz NOT NULL,
        field text COLLATE "C" NOT NULL,
        value text COLLATE "C" NOT NULL,
        PRIMARY KEY (tenant, view, view_version, entity_key, field, bucket_start, value)
      )`);
    await queryRunner.query(`
      CREATE TABLE feature_store.backfills (
        tenant text NOT NULL,
        view text NOT NULL,
        view_version text NOT NULL,
        status text NOT NULL CHECK (status IN ('running', 'done')),
        last_record_key text,
        events_applied bigint NOT NULL DEFAULT 0,
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, view, view_version)
      )`);

    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS streaming');
    await queryRunner.query(`
      CREATE TABLE streaming.dead_letters (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text NOT NULL,
        stream text NOT NULL,
        consumer text NOT NULL,
        subject text NOT NULL,
        stream_seq bigint NOT NULL,
        delivery_count integer NOT NULL,
        event_key text,
        payload bytea NOT NULL,
        reason text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (stream, consumer, stream_seq)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS streaming.dead_letters');
    await queryRunner.query('DROP SCHEMA IF EXISTS streaming');
    await queryRunner.query('DROP TABLE IF EXISTS feature_store.backfills');
    await queryRunner.query('DROP TABLE IF EXISTS feature_store.bucket_values');
    await queryRunner.query('DROP TABLE IF EXISTS feature_store.bucket_stats');
    await queryRunner.query('DROP TABLE IF EXISTS feature_store.views');
    await queryRunner.query('DROP SCHEMA IF EXISTS feature_store');
  }
}
