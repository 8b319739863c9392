import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes that keep an audit export's reads in proportion to what it exports:
 * - `subject_keys_erased` lists the erased subject keys, which an export reads once before its
 *   first batch to mark the decisions of erased data subjects.
 * - `decision_records_tombstones` lists the purged records, which every chain verification
 *   (the incremental one of each export too) matches against the `retention.purged` entries.
 *   Without it that check read the jsonb record of every decision: about 0.5 s per 50,000
 *   credit-shaped records on the benchmark machine.
 * - `ledger_entries_created` (BRIN) finds the entries of a period, which the summary counts by
 *   type. Without it the count scanned the whole ledger. The ledger is append-only, so its rows
 *   lie nearly in created_at order, and a block range index stays small (24 kB for 150,000
 *   entries) and cheap to keep up to date. A block range written after the index was built
 *   matches every query until a VACUUM summarizes it, and autovacuum vacuums an append-only table
 *   only after inserts of about a fifth of its rows. With autosummarize, PostgreSQL (10 and
 *   later, per its manual on BRIN indexes) queues the summary of a range for autovacuum once
 *   inserts reach the next range, so the recent periods that exports cover stay indexed.
 *
 * NOTE: embedded PGlite, and a server with autovacuum off, never summarize on their own. There the
 * ranges written after this migration match every period, and the event count reads them all
 * (about as slow as without the index), until something runs VACUUM or brin_summarize_new_values().
 */
export class ExportIndexes1796342402100 implements MigrationInterface {
  name = 'ExportIndexes1796342402100';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE INDEX subject_keys_erased ON audit.subject_keys (key_id) WHERE erased_at IS NOT NULL');
    await queryRunner.query("CREATE INDEX decision_records_tombstones ON decisions.decision_records (ledger_seq) WHERE record ? 'purged'");
    await queryRunner.query('CREATE INDEX ledger_entries_created ON audit.ledger_entries USING brin (created_at) WITH (autosummarize = on)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX audit.ledger_entries_created');
    await queryRunner.query('DROP INDEX decisions.decision_records_tombstones');
    await queryRunner.query('DROP INDEX audit.subject_keys_erased');
  }
}
