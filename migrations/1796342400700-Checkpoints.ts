import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the tables of signed checkpoints: the log's identity, the public keys that ever signed a
 * checkpoint, the checkpoints themselves and the outcome of publishing each one to witnesses.
 * Public keys are never deleted, so every old checkpoint stays verifiable after a key rotation; the
 * only change a key row accepts is setting retired_at once. Checkpoints are append-only.
 */
export class Checkpoints1796342400700 implements MigrationInterface {
  name = 'Checkpoints1796342400700';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS audit');
    await queryRunner.query(`
      CREATE FUNCTION audit.reject_checkpoint_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'checkpoint records are append-only: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);

    // One row naming this log. Its random id makes the default checkpoint origin unique per
    // database and stable across restarts.
    await queryRunner.query(`
      CREATE TABLE audit.checkpoint_log (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        log_id uuid NOT NULL DEFAULT gen_random_uuid(),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('INSERT INTO audit.checkpoint_log DEFAULT VALUES');
    await this.rejectAllChanges(queryRunner, 'checkpoint_log');

    await queryRunner.query(`
      CREATE TABLE audit.checkpoint_keys (
        key_id text PRIMARY KEY,
        key_name text NOT NULL CHECK (key_name <> ''),
        public_key bytea NOT NULL CHECK (octet_length(public_key) = 32),
        vkey text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
      )`);
    await queryRunner.query(`
      CREATE FUNCTION audit.allow_checkpoint_key_retirement() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.retired_at IS NULL AND NEW.retired_at IS NOT NULL
           AND NEW.key_id = OLD.key_id AND NEW.key_name = OLD.key_name AND NEW.public_key = OLD.public_key
           AND NEW.vkey = OLD.vkey AND NEW.created_at = OLD.created_at THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'checkpoint keys are kept forever: the only allowed change is setting retired_at once'
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER checkpoint_keys_retire_only BEFORE UPDATE ON audit.checkpoint_keys
      FOR EACH ROW EXECUTE FUNCTION audit.allow_checkpoint_key_retirement()`);
    await queryRunner.query(`
      CREATE TRIGGER checkpoint_keys_no_delete BEFORE DELETE ON audit.checkpoint_keys
      FOR EACH ROW EXECUTE FUNCTION audit.reject_checkpoint_change()`);
    await queryRunner.query(`
      CREATE TRIGGER checkpoint_keys_no_truncate BEFORE TRUNCATE ON audit.checkpoint_keys
      FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_checkpoint_change()`);

    await queryRunner.query(`
      CREATE TABLE audit.checkpoints (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tree_size bigint NOT NULL CHECK (tree_size >= 0),
        root_hash char(64) NOT NULL CHECK (root_hash ~ '^[0-9a-f]{64}$'),
        origin text NOT NULL CHECK (origin <> ''),
        key_id text NOT NULL REFERENCES audit.checkpoint_keys (key_id),
        note text NOT NULL,
        ledger_seq bigint NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX checkpoints_tree_size ON audit.checkpoints (tree_size DESC, id DESC)');
    await this.rejectAllChanges(queryRunner, 'checkpoints');

    await queryRunner.query(`
      CREATE TABLE audit.checkpoint_witness_deliveries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        checkpoint_id bigint NOT NULL REFERENCES audit.checkpoints (id),
        witness text NOT NULL CHECK (witness IN ('file', 'http')),
        target text NOT NULL,
        status text NOT NULL CHECK (status IN ('delivered', 'failed')),
        attempts integer NOT NULL CHECK (attempts >= 1),
        error text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query('CREATE INDEX checkpoint_witness_deliveries_checkpoint ON audit.checkpoint_witness_deliveries (checkpoint_id)');
    await this.rejectAllChanges(queryRunner, 'checkpoint_witness_deliveries');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // DROP TABLE removes each table's triggers and indexes with it.
    await queryRunner.query('DROP TABLE IF EXISTS audit.checkpoint_witness_deliveries');
    await queryRunner.query('DROP TABLE IF EXISTS audit.checkpoints');
    await queryRunner.query('DROP TABLE IF EXISTS audit.checkpoint_keys');
    await queryRunner.query('DROP TABLE IF EXISTS audit.checkpoint_log');
    await queryRunner.query('DROP FUNCTION IF EXISTS audit.allow_checkpoint_key_retirement()');
    await queryRunner.query('DROP FUNCTION IF EXISTS audit.reject_checkpoint_change()');
  }

  private async rejectAllChanges(queryRunner: QueryRunner, table: string): Promise<void> {
    await queryRunner.query(`
      CREATE TRIGGER ${table}_no_update_delete BEFORE UPDATE OR DELETE ON audit.${table}
      FOR EACH ROW EXECUTE FUNCTION audit.reject_checkpoint_change()`);
    await queryRunner.query(`
      CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON audit.${table}
      FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_checkpoint_change()`);
  }
}
