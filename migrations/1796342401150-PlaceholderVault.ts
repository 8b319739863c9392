import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the placeholder vault: the original values behind typed placeholders such as <IBAN_1>,
 * sealed with AES-256-GCM under a per-tenant key (nonce, ciphertext and tag in one bytea). Rows are
 * never updated; they are deleted when their scope passes retention or its data subject is erased.
 */
export class PlaceholderVault1796342401150 implements MigrationInterface {
  name = 'PlaceholderVault1796342401150';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS guardrails');
    await queryRunner.query(`
      CREATE TABLE guardrails.vault_entries (
        tenant text NOT NULL,
        scope text NOT NULL,
        placeholder text NOT NULL,
        entity_type text NOT NULL,
        sealed bytea NOT NULL CHECK (octet_length(sealed) > 28),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant, scope, placeholder)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS guardrails.vault_entries');
    await queryRunner.query('DROP SCHEMA IF EXISTS guardrails');
  }
}
