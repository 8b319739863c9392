import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Finds the newest `audit.chain_verified` entry, which every audit export reads to verify only the
 * entries after the last recorded full verification. Without it the lookup scans the ledger.
 */
export class ChainVerifiedIndex1796342401800 implements MigrationInterface {
  name = 'ChainVerifiedIndex1796342401800';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query("CREATE INDEX ledger_entries_chain_verified ON audit.ledger_entries (seq) WHERE type = 'audit.chain_verified'");
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX audit.ledger_entries_chain_verified');
  }
}
