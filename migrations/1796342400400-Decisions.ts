import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the decision records. A record is immutable once written: later events about a decision
 * (reviews, overrides) are new ledger entries that point at it, so triggers reject UPDATE, DELETE
 * and TRUNCATE here as on the ledger.
 */
export class Decisions1796342400400 implements MigrationInterface {
  name = 'Decisions1796342400400';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS decisions');
    await queryRunner.query(`
      CREATE TABLE decisions.decision_records (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        use_case text NOT NULL,
        request_id text,
        actor text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('APPROVE', 'DECLINE', 'REFER')),
        score double precision NOT NULL,
        model_version text NOT NULL,
        record jsonb NOT NULL,
        record_digest char(64) NOT NULL,
        ledger_seq bigint NOT NULL,
        ledger_hash char(64) NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query(
      'CREATE UNIQUE INDEX decision_records_request_key ON decisions.decision_records (tenant, use_case, request_id) WHERE request_id IS NOT NULL',
    );
    await queryRunner.query('CREATE INDEX decision_records_use_case_time ON decisions.decision_records (use_case, created_at)');
    await queryRunner.query('CREATE INDEX decision_records_tenant_time ON decisions.decision_records (tenant, created_at)');
    await queryRunner.query(`
      CREATE FUNCTION decisions.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'decision records are immutable: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER decision_records_no_update_delete BEFORE UPDATE OR DELETE ON decisions.decision_records
      FOR EACH ROW EXECUTE FUNCTION decisions.reject_change()`);
    await queryRunner.query(`
      CREATE TRIGGER decision_records_no_truncate BEFORE TRUNCATE ON decisions.decision_records
      FOR EACH STATEMENT EXECUTE FUNCTION decisions.reject_change()`);

    // Content-addressed copies of the use-case configs and reason-code maps that decisions ran
    // under, so a replay uses exactly those even after the files under policies/ change.
    await queryRunner.query(`
      CREATE TABLE decisions.policy_snapshots (
        hash char(64) PRIMARY KEY,
        kind text NOT NULL,
        name text NOT NULL,
        content jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS decisions.policy_snapshots');
    await queryRunner.query('DROP TABLE IF EXISTS decisions.decision_records');
    await queryRunner.query('DROP FUNCTION IF EXISTS decisions.reject_change()');
    await queryRunner.query('DROP SCHEMA IF EXISTS decisions');
  }
}
