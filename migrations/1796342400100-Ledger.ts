import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the audit ledger: one hash-chained row per event. The table is append-only, so triggers
 * reject UPDATE, DELETE and TRUNCATE for every role. A table owner can still disable the triggers,
 * which is why verification recomputes the chain instead of trusting the rows.
 */
export class Ledger1796342400100 implements MigrationInterface {
  name = 'Ledger1796342400100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS audit');
    await queryRunner.query(`
      CREATE TABLE audit.ledger_entries (
        seq bigint PRIMARY KEY CHECK (seq > 0),
        type text NOT NULL CHECK (type <> ''),
        tenant text NOT NULL CHECK (tenant <> ''),
        actor text NOT NULL CHECK (actor <> ''),
        payload jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
        created_at timestamptz NOT NULL,
        prev_hash char(64) NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
        hash char(64) NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$')
      )`);
    await queryRunner.query('CREATE INDEX ledger_entries_tenant_seq ON audit.ledger_entries (tenant, seq)');
    await queryRunner.query('CREATE INDEX ledger_entries_type ON audit.ledger_entries (type)');
    await queryRunner.query(`
      CREATE FUNCTION audit.reject_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the audit ledger is append-only: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Record a correction as a new ledger entry instead.';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER ledger_entries_no_update_delete BEFORE UPDATE OR DELETE ON audit.ledger_entries
      FOR EACH ROW EXECUTE FUNCTION audit.reject_ledger_change()`);
    await queryRunner.query(`
      CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON audit.ledger_entries
      FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_ledger_change()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // DROP TABLE removes the table's triggers and indexes with it.
    await queryRunner.query('DROP TABLE IF EXISTS audit.ledger_entries');
    await queryRunner.query('DROP FUNCTION IF EXISTS audit.reject_ledger_change()');
    await queryRunner.query('DROP SCHEMA IF EXISTS audit');
  }
}
