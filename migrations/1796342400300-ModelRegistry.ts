import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the model registry. A model version is immutable once registered: only its `status`
 * may change later, so a decision that cites a version can always be replayed with the same
 * artifact, encoder, coefficients and reference. A trigger rejects every other UPDATE, and
 * DELETE and TRUNCATE.
 */
export class ModelRegistry1796342400300 implements MigrationInterface {
  name = 'ModelRegistry1796342400300';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS models');
    await queryRunner.query(`
      CREATE TABLE models.model_versions (
        id uuid PRIMARY KEY,
        use_case text NOT NULL,
        version text NOT NULL,
        version_number integer NOT NULL CHECK (version_number > 0),
        status text NOT NULL DEFAULT 'registered',
        artifact bytea NOT NULL,
        artifact_sha256 char(64) NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
        dataset text NOT NULL,
        dataset_version text NOT NULL,
        training_rows integer NOT NULL CHECK (training_rows > 0),
        holdout_rows integer NOT NULL CHECK (holdout_rows >= 0),
        features jsonb NOT NULL,
        encoder jsonb NOT NULL,
        coefficients jsonb NOT NULL,
        intercept double precision NOT NULL,
        reference jsonb NOT NULL,
        metrics jsonb NOT NULL,
        training_config jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        created_by text NOT NULL,
        CONSTRAINT model_versions_version_key UNIQUE (use_case, version),
        CONSTRAINT model_versions_number_key UNIQUE (use_case, version_number),
        CONSTRAINT model_versions_version_format CHECK (version = use_case || '@' || version_number)
      )`);
    await queryRunner.query(`
      CREATE FUNCTION models.reject_model_version_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'status') = (to_jsonb(OLD) - 'status') THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'model versions are immutable except for status: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER model_versions_immutable BEFORE UPDATE OR DELETE ON models.model_versions
      FOR EACH ROW EXECUTE FUNCTION models.reject_model_version_change()`);
    await queryRunner.query(`
      CREATE TRIGGER model_versions_no_truncate BEFORE TRUNCATE ON models.model_versions
      FOR EACH STATEMENT EXECUTE FUNCTION models.reject_model_version_change()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS models.model_versions');
    await queryRunner.query('DROP FUNCTION IF EXISTS models.reject_model_version_change()');
    await queryRunner.query('DROP SCHEMA IF EXISTS models');
  }
}
