import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Retention: legal holds, and the one change a decision record may undergo. A record past its
 * retention period is replaced by a tombstone ({"purged": true, "purgedAt", "rule"}); every other
 * column, the record digest included, stays, so ledger entries and proofs still verify. The
 * trigger allows exactly that update and still rejects every other UPDATE, DELETE and TRUNCATE.
 */
export class Retention1796342401160 implements MigrationInterface {
  name = 'Retention1796342401160';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION decisions.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'decision_records'
           AND NOT (OLD.record ? 'purged') AND NEW.record ? 'purged'
           AND NEW.record - 'purgedAt' - 'rule' = '{"purged": true}'::jsonb
           AND (to_jsonb(NEW) - 'record') = (to_jsonb(OLD) - 'record') THEN
          -- A legal hold wins over any purge, including one run by hand in SQL.
          IF EXISTS (SELECT 1 FROM audit.legal_holds h
                      WHERE h.released_at IS NULL AND h.tenant = OLD.tenant AND (h.use_case IS NULL OR h.use_case = OLD.use_case)) THEN
            RAISE EXCEPTION 'decision record % is under a legal hold and cannot be purged', OLD.id
              USING ERRCODE = 'insufficient_privilege';
          END IF;
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'decision records are immutable: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);

    await queryRunner.query(`
      CREATE TABLE audit.legal_holds (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        -- NULL covers every use case of the tenant.
        use_case text,
        reason text NOT NULL CHECK (length(reason) BETWEEN 10 AND 2000),
        placed_by text NOT NULL,
        placed_at timestamptz NOT NULL,
        placed_ledger_seq bigint NOT NULL,
        released_by text,
        released_at timestamptz,
        released_ledger_seq bigint,
        CHECK ((released_at IS NULL) = (released_by IS NULL))
      )`);
    await queryRunner.query('CREATE INDEX legal_holds_active ON audit.legal_holds (tenant) WHERE released_at IS NULL');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS audit.legal_holds');
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION decisions.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'decision records are immutable: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
  }
}
