import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the tables of the dataset registry, records and quarantine. A batch row is written
 * last in its transaction, after the records and quarantine rows that point at it, so those
 * foreign keys are checked at commit (DEFERRABLE INITIALLY DEFERRED).
 */
export class Ingestion1796342400200 implements MigrationInterface {
  name = 'Ingestion1796342400200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS ingestion');
    await queryRunner.query(`
      CREATE TABLE ingestion.datasets (
        name text NOT NULL,
        version text NOT NULL,
        definition jsonb NOT NULL,
        definition_hash char(64) NOT NULL,
        registered_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, version)
      )`);
    await queryRunner.query(`
      CREATE TABLE ingestion.batches (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        dataset text NOT NULL,
        dataset_version text NOT NULL,
        source text NOT NULL,
        accepted integer NOT NULL CHECK (accepted >= 0),
        quarantined integer NOT NULL CHECK (quarantined >= 0),
        duplicates integer NOT NULL CHECK (duplicates >= 0),
        definition_hash char(64) NOT NULL,
        actor text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (dataset, dataset_version) REFERENCES ingestion.datasets (name, version)
      )`);
    await queryRunner.query('CREATE INDEX batches_tenant_dataset_time ON ingestion.batches (tenant, dataset, created_at)');
    await queryRunner.query(`
      CREATE TABLE ingestion.records (
        tenant text NOT NULL,
        dataset text NOT NULL,
        record_key text NOT NULL,
        dataset_version text NOT NULL,
        record jsonb NOT NULL,
        record_digest char(64) NOT NULL,
        batch_id uuid NOT NULL REFERENCES ingestion.batches (id) DEFERRABLE INITIALLY DEFERRED,
        ingested_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, dataset, record_key)
      )`);
    await queryRunner.query('CREATE INDEX records_batch ON ingestion.records (batch_id)');
    await queryRunner.query(`
      CREATE TABLE ingestion.quarantine (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        batch_id uuid NOT NULL REFERENCES ingestion.batches (id) DEFERRABLE INITIALLY DEFERRED,
        tenant text NOT NULL,
        dataset text NOT NULL,
        row_number integer NOT NULL,
        record_key text,
        record jsonb,
        errors jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX quarantine_batch_row ON ingestion.quarantine (batch_id, row_number)');
    await queryRunner.query('CREATE INDEX quarantine_tenant_dataset_time ON ingestion.quarantine (tenant, dataset, created_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS ingestion.quarantine');
    await queryRunner.query('DROP TABLE IF EXISTS ingestion.records');
    await queryRunner.query('DROP TABLE IF EXISTS ingestion.batches');
    await queryRunner.query('DROP TABLE IF EXISTS ingestion.datasets');
    await queryRunner.query('DROP SCHEMA IF EXISTS ingestion');
  }
}
