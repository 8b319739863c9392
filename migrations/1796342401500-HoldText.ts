import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Keeps free text that people type out of the ledger. From now on `legal-hold.placed` and
 * `legal-hold.released` entries carry `reasonHmac`, an HMAC-SHA-256 of the reason under a random
 * salt, and the reason and the salt live in audit.legal_holds, where the retention purge can
 * replace the text with `[purged]` and drop the salt. Entries written before carry the reason
 * itself and keep it; their rows have no salt. The release reason was stored only in the ledger
 * until now, so it is copied from there into `release_reason`.
 *
 * Review rationales, reveal reasons and use-case switch reasons get the same keyed digests in
 * place of their plain SHA-256, with the salt in the row that holds the text. The review history
 * trigger then lets the purge drop a case event's salt together with its text.
 */
export class HoldText1796342401500 implements MigrationInterface {
  name = 'HoldText1796342401500';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE audit.legal_holds
        ADD COLUMN reason_salt bytea CHECK (octet_length(reason_salt) = 32),
        ADD COLUMN release_reason text,
        ADD COLUMN release_reason_salt bytea CHECK (octet_length(release_reason_salt) = 32),
        ADD COLUMN text_purged_at timestamptz,
        ADD COLUMN text_purged_ledger_seq bigint`);
    await queryRunner.query(`
      UPDATE audit.legal_holds h SET release_reason = e.payload->>'reason'
        FROM audit.ledger_entries e
       WHERE e.seq = h.released_ledger_seq AND e.type = 'legal-hold.released'`);
    await queryRunner.query('ALTER TABLE audit.legal_holds DROP CONSTRAINT legal_holds_reason_check');
    await queryRunner.query(`
      ALTER TABLE audit.legal_holds
        ADD CONSTRAINT legal_holds_reason_check CHECK (reason = '[purged]' OR length(reason) BETWEEN 10 AND 2000),
        ADD CONSTRAINT legal_holds_release_reason_check CHECK (release_reason = '[purged]' OR length(release_reason) BETWEEN 10 AND 2000),
        ADD CONSTRAINT legal_holds_text_purged_check CHECK ((text_purged_at IS NULL) = (text_purged_ledger_seq IS NULL))`);
    await queryRunner.query('CREATE INDEX legal_holds_text_due ON audit.legal_holds (released_at) WHERE text_purged_at IS NULL AND released_at IS NOT NULL');

    await queryRunner.query('ALTER TABLE review.case_events ADD COLUMN text_salt bytea CHECK (octet_length(text_salt) = 32)');
    await queryRunner.query('ALTER TABLE review.use_case_switch_events ADD COLUMN reason_salt bytea CHECK (octet_length(reason_salt) = 32)');
    await queryRunner.query(reviewTrigger(true));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(reviewTrigger(false));
    await queryRunner.query('ALTER TABLE review.use_case_switch_events DROP COLUMN reason_salt');
    await queryRunner.query('ALTER TABLE review.case_events DROP COLUMN text_salt');

    await queryRunner.query('DROP INDEX IF EXISTS audit.legal_holds_text_due');
    await queryRunner.query(`
      ALTER TABLE audit.legal_holds
        DROP CONSTRAINT legal_holds_text_purged_check,
        DROP CONSTRAINT legal_holds_release_reason_check,
        DROP CONSTRAINT legal_holds_reason_check`);
    // Reasons purged before the rollback stay "[purged]", so the restored check still accepts that value.
    await queryRunner.query(`ALTER TABLE audit.legal_holds ADD CONSTRAINT legal_holds_reason_check CHECK (reason = '[purged]' OR length(reason) BETWEEN 10 AND 2000)`);
    await queryRunner.query(`
      ALTER TABLE audit.legal_holds
        DROP COLUMN text_purged_ledger_seq,
        DROP COLUMN text_purged_at,
        DROP COLUMN release_reason_salt,
        DROP COLUMN release_reason,
        DROP COLUMN reason_salt`);
  }
}

/**
 * Returns the review history trigger function. It rejects every change but one: the rationale and
 * detail of a vote or case event may become `[purged]` once its decision is a retention tombstone
 * or its subject key was destroyed. With `withSalt` the same update may also set the case event's
 * `text_salt` to NULL, and must change nothing else.
 */
function reviewTrigger(withSalt: boolean): string {
  const ignored = withSalt ? " - 'rationale' - 'detail' - 'text_salt'" : " - 'rationale' - 'detail'";
  const salt = withSalt ? "\n           AND (new_row->'text_salt' IS NOT DISTINCT FROM old_row->'text_salt' OR new_row->'text_salt' = 'null'::jsonb)" : '';
  return `
      CREATE OR REPLACE FUNCTION review.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        old_row jsonb := to_jsonb(OLD);
        new_row jsonb := to_jsonb(NEW);
      BEGIN
        IF TG_OP = 'UPDATE' AND TG_TABLE_NAME IN ('votes', 'case_events')
           AND (new_row${ignored}) = (old_row${ignored})
           AND (new_row->'rationale' = old_row->'rationale' OR new_row->>'rationale' = '[purged]')
           AND (new_row->'detail' IS NOT DISTINCT FROM old_row->'detail' OR new_row->>'detail' = '[purged]')${salt}
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
      END $$`;
}
