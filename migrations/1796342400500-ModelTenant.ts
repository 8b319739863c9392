import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scopes model versions to the tenant whose data trained them, so that training for one bank
 * never changes the model that decides another bank's applications. Version numbers stay unique
 * per use case. Rows registered before this migration take the tenant recorded in their training
 * config.
 */
export class ModelTenant1796342400500 implements MigrationInterface {
  name = 'ModelTenant1796342400500';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE models.model_versions ADD COLUMN tenant text');
    // The immutability trigger allows only status changes, so it is paused for the backfill.
    await queryRunner.query('ALTER TABLE models.model_versions DISABLE TRIGGER model_versions_immutable');
    await queryRunner.query("UPDATE models.model_versions SET tenant = coalesce(training_config->>'tenant', 'unknown')");
    await queryRunner.query('ALTER TABLE models.model_versions ENABLE TRIGGER model_versions_immutable');
    await queryRunner.query('ALTER TABLE models.model_versions ALTER COLUMN tenant SET NOT NULL');
    await queryRunner.query('CREATE INDEX model_versions_tenant_latest ON models.model_versions (use_case, tenant, version_number DESC)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX IF EXISTS models.model_versions_tenant_latest');
    await queryRunner.query('ALTER TABLE models.model_versions DISABLE TRIGGER model_versions_immutable');
    await queryRunner.query('ALTER TABLE models.model_versions DROP COLUMN tenant');
    await queryRunner.query('ALTER TABLE models.model_versions ENABLE TRIGGER model_versions_immutable');
  }
}
