import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Finds the `access.denied` ledger entries that name a decision by payload.decisionId, which an
 * audit export reads for every exported decision. The review service writes them with the decision
 * id when its attribute rules turn a reviewer away. Without this index each export reads every
 * denial, including the gateway's, which carry no decision id.
 *
 * The planner ignores the statistics of a partial index, so it misjudged how many entries share a
 * payload->>'decisionId'. On a synthetic ledger of 800,001 entries (PostgreSQL 15) it estimated
 * 148,362 matches for a one-day export's 4,320 decisions, which had 172. It then read every denial
 * and every review entry and hash-joined them instead of probing this index and
 * ledger_entries_review_decision once per decision. The extended statistics on the expression give
 * it the number of distinct ids (CREATE STATISTICS on an expression needs PostgreSQL 14). The
 * ANALYZE fills them at once, because autovacuum analyzes a large ledger again only after many new
 * rows, and embedded PGlite runs no autovacuum.
 */
export class DenialEntryIndex1796342402200 implements MigrationInterface {
  name = 'DenialEntryIndex1796342402200';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      "CREATE INDEX ledger_entries_denial_decision ON audit.ledger_entries ((payload->>'decisionId'), seq) WHERE type = 'access.denied'",
    );
    await queryRunner.query("CREATE STATISTICS audit.ledger_entries_decision_id ON (payload->>'decisionId') FROM audit.ledger_entries");
    await queryRunner.query('ANALYZE audit.ledger_entries');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP STATISTICS audit.ledger_entries_decision_id');
    await queryRunner.query('DROP INDEX audit.ledger_entries_denial_decision');
  }
}
