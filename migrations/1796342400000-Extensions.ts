import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Enables pgvector, which retrieval needs, and fails early on a server without it. */
export class Extensions1796342400000 implements MigrationInterface {
  name = 'Extensions1796342400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE EXTENSION IF NOT EXISTS vector');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP EXTENSION IF EXISTS vector');
  }
}
