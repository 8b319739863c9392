import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-data-subject keys for crypto-shredding. Each row holds one AES-256 key, wrapped with
 * AES-256-GCM under a per-tenant key derived from the master key file, that encrypts the personal
 * fields of the subject's decision records. Erasure (GDPR Art. 17) sets `wrapped_key` to NULL: the
 * records, their digests and the ledger stay, and their personal fields can no longer be read.
 * `subject_ref` is an HMAC-SHA256 of the subject id under a tenant key, so the table never holds
 * the id itself. At most one key per subject is active; a subject who returns after erasure gets
 * a new key.
 *
 * It also lets the free text of review history go once its decision no longer carries personal
 * data: a vote's or case event's `rationale` and `detail` may be replaced by `[purged]` (and
 * nothing else changed) when the decision record is a retention tombstone or its subject key was
 * destroyed. The ledger keeps the digest of every rationale.
 */
export class SubjectKeys1796342401400 implements MigrationInterface {
  name = 'SubjectKeys1796342401400';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE audit.subject_keys (
        key_id uuid PRIMARY KEY,
        tenant text NOT NULL,
        subject_ref char(64) NOT NULL,
        wrapped_key bytea CHECK (wrapped_key IS NULL OR octet_length(wrapped_key) = 60),
        created_at timestamptz NOT NULL,
        erased_at timestamptz,
        erased_ledger_seq bigint,
        CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL)),
        CHECK ((erased_at IS NULL) = (erased_ledger_seq IS NULL))
      )`);
    await queryRunner.query('CREATE UNIQUE INDEX subject_keys_active ON audit.subject_keys (tenant, subject_ref) WHERE erased_at IS NULL');
    await queryRunner.query('CREATE INDEX subject_keys_subject ON audit.subject_keys (tenant, subject_ref)');
    // A key may only be destroyed: the one allowed update clears wrapped_key and stamps the erasure.
    await queryRunner.query(`
      CREATE FUNCTION audit.subject_keys_destroy_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.wrapped_key IS NOT NULL AND NEW.wrapped_key IS NULL
           AND NEW.key_id = OLD.key_id AND NEW.tenant = OLD.tenant AND NEW.subject_ref = OLD.subject_ref
           AND NEW.created_at = OLD.created_at THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'subject keys can only be destroyed: % on audit.subject_keys is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER subject_keys_destroy_only BEFORE UPDATE OR DELETE ON audit.subject_keys
      FOR EACH ROW EXECUTE FUNCTION audit.subject_keys_destroy_only()`);
    // Finds the records sealed under a subject's keys when an erasure checks retention and holds.
    await queryRunner.query(
      "CREATE INDEX decision_records_subject_key ON decisions.decision_records ((record->'personal'->>'keyId')) WHERE record ? 'personal'",
    );
    await this.allowPurgingReviewText(queryRunner);
  }

  private async allowPurgingReviewText(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION review.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        old_row jsonb := to_jsonb(OLD);
        new_row jsonb := to_jsonb(NEW);
      BEGIN
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME IN ('votes', 'case_events')
           AND (new_row - 'rationale' - 'detail') = (old_row - 'rationale' - 'detail')
           AND (new_row->'rationale' = old_row->'rationale' OR new_row->>'rationale' = '[purged]')
           AND (new_row->'detail' IS NOT DISTINCT FROM old_row->'detail' OR new_row->>'detail' = '[purged]')
           AND EXISTS (
             SELECT 1 FROM review.cases c JOIN decisions.decision_records d ON d.id = c.decision_id
              WHERE c.id = (old_row->>'case_id')::uuid
                AND (d.record ? 'purged' OR EXISTS (
                  SELECT 1 FROM audit.subject_keys k
                   WHERE k.key_id::text = d.record->'personal'->>'keyId' AND k.erased_at IS NOT NULL))) THEN
          RETURN NEW;
        END IF;
        RAISE EXCEPTION 'review history is append-only: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION review.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'review history is append-only: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);
    await queryRunner.query('DROP INDEX IF EXISTS decisions.decision_records_subject_key');
    await queryRunner.query('DROP TABLE IF EXISTS audit.subject_keys');
    await queryRunner.query('DROP FUNCTION IF EXISTS audit.subject_keys_destroy_only()');
  }
}
