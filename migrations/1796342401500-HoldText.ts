import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Moves the free text of legal holds out of the ledger. From now on `legal-hold.placed` and
 * `legal-hold.released` entries carry `reasonHmac`, an HMAC-SHA-256 of the reason under a random
 * salt, and the reason and the salt live here, where the retention purge can replace the text
 * with `[purged]` and drop the salt. Entries written before carry the reason itself and keep it;
 * their rows have no salt. The release reason was stored only in the ledger until now, so it is
 * copied from there into `release_reason`.
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
  }

  async down(queryRunner: QueryRunner): Promise<void> {
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
