import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stores each ledger entry's payload as the RFC 8785 text that its hash covers, beside the jsonb
 * column. An audit export copies the text into ledger.jsonl and hashes it, where it would otherwise
 * have PostgreSQL print the jsonb and canonicalize the parsed value again. Entries appended before
 * this migration keep payload_json NULL and are read from the jsonb as before.
 *
 * append() fills both columns from one text. This migration added no CHECK constraint to compare
 * them, because parsing the text again cost about 4 µs per appended entry; migration
 * 1796342402500 added one later, because verification paid more for the comparison. An edit of either column behind the triggers
 * is still found: chain verification hashes the jsonb wherever the text differs from it, and an
 * export hashes the canonical form of the parsed text.
 */
export class LedgerPayloadJson1796342402000 implements MigrationInterface {
  name = 'LedgerPayloadJson1796342402000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE audit.ledger_entries ADD COLUMN payload_json text');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE audit.ledger_entries DROP COLUMN payload_json');
  }
}
