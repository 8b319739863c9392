import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Finds the review ledger entries (types `review.*`) of a decision by payload.decisionId, which an
 * audit export reads for every exported decision. Without it each export scans every review entry.
 */
export class ReviewEntryIndex1796342401700 implements MigrationInterface {
  name = 'ReviewEntryIndex1796342401700';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      "CREATE INDEX ledger_entries_review_decision ON audit.ledger_entries ((payload->>'decisionId'), seq) WHERE type LIKE 'review.%'",
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX audit.ledger_entries_review_decision');
  }
}
