import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * decisions.reject_change, which lets only a purge change a decision record. `unchanged` is the
 * expression that must be equal for OLD and NEW: the row without the columns a purge replaces.
 * `extra` is a further condition on NEW for a purge.
 */
const rejectChangeSql = (unchanged: (row: string) => string, extra = ''): string => `
  CREATE OR REPLACE FUNCTION decisions.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'decision_records'
       AND NOT (OLD.record ? 'purged') AND NEW.record ? 'purged'
       AND NEW.record - 'purgedAt' - 'rule' = '{"purged": true}'::jsonb
       AND ${unchanged('NEW')} = ${unchanged('OLD')}${extra} THEN
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
  END $$`;

/**
 * Stores each decision record's RFC 8785 text, the exact bytes its record_digest covers, beside the
 * jsonb column. An audit export then copies the text into decisions.jsonl and hashes it, where it
 * would otherwise have PostgreSQL print the jsonb and canonicalize the parsed value again.
 *
 * The jsonb column is derived from the text, so the two cannot disagree: a row written with
 * record_json gets record = record_json::jsonb, and an UPDATE that changes record without the text
 * (a purge run by hand in SQL) clears record_json, so that readers fall back to the jsonb. Rows
 * written before this migration keep record_json NULL and are exported from the jsonb as before.
 */
export class DecisionRecordJson1796342401900 implements MigrationInterface {
  name = 'DecisionRecordJson1796342401900';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE decisions.decision_records ADD COLUMN record_json text');
    await queryRunner.query(`
      CREATE FUNCTION decisions.derive_record() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.record_json IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.record_json IS DISTINCT FROM OLD.record_json) THEN
          NEW.record := NEW.record_json::jsonb;
        ELSIF TG_OP = 'UPDATE' AND NEW.record IS DISTINCT FROM OLD.record THEN
          NEW.record_json := NULL;
        END IF;
        RETURN NEW;
      END $$`);
    // Named to fire after decision_records_no_update_delete, which sees the UPDATE as the caller wrote it.
    await queryRunner.query(`
      CREATE TRIGGER decision_records_record_json BEFORE INSERT OR UPDATE ON decisions.decision_records
      FOR EACH ROW EXECUTE FUNCTION decisions.derive_record()`);
    // A purge replaces the record and its text together, so the immutability check leaves out both.
    // A new text must be the tombstone too, because derive_record then sets the record from it. An
    // unchanged text is cleared by derive_record.
    await queryRunner.query(
      rejectChangeSql(
        (row) => `(to_jsonb(${row}) - 'record' - 'record_json')`,
        '\n       AND (NEW.record_json IS NOT DISTINCT FROM OLD.record_json OR NEW.record_json::jsonb = NEW.record)',
      ),
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // As the Retention migration defined it.
    await queryRunner.query(rejectChangeSql((row) => `(to_jsonb(${row}) - 'record')`));
    await queryRunner.query('DROP TRIGGER decision_records_record_json ON decisions.decision_records');
    await queryRunner.query('DROP FUNCTION decisions.derive_record()');
    await queryRunner.query('ALTER TABLE decisions.decision_records DROP COLUMN record_json');
  }
}
