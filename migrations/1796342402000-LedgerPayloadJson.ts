import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stores each ledger entry's payload as the RFC 8785 text that its hash covers, beside the jsonb
 * column. An audit export copies the text into ledger.jsonl and hashes it, where it would otherwise
 * have PostgreSQL print the jsonb and canonicalize the parsed value again. A CHECK constraint keeps
 * the two columns equal as JSON values, and it holds with triggers disabled. Entries appended
 * before this migration keep payload_json NULL and are read from the jsonb as before.
 */
export class LedgerPayloadJson1796342402000 implements MigrationInterface {
  name = 'LedgerPayloadJson1796342402000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE audit.ledger_entries ADD COLUMN payload_json text');
    await queryRunner.query(
      'ALTER TABLE audit.ledger_entries ADD CONSTRAINT ledger_entries_payload_json CHECK (payload_json IS NULL OR payload_json::jsonb = payload)',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE audit.ledger_entries DROP COLUMN payload_json');
  }
}
