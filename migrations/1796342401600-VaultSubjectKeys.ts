import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lets a placeholder vault entry be sealed under a data subject's key instead of its tenant's
 * vault key: `subject_key_id` names the key in `audit.subject_keys`. An answer asked for a named
 * data subject stores its placeholder values this way, so erasing the subject (destroying the key)
 * leaves them unreadable, in backups as well.
 */
export class VaultSubjectKeys1796342401600 implements MigrationInterface {
  name = 'VaultSubjectKeys1796342401600';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE guardrails.vault_entries ADD COLUMN subject_key_id uuid REFERENCES audit.subject_keys (key_id)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE guardrails.vault_entries DROP COLUMN IF EXISTS subject_key_id');
  }
}
