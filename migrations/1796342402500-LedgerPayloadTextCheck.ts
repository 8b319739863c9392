import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Name of the constraint; libs/audit/src/payload-text-check.ts looks it up by this name. */
const CONSTRAINT = 'ledger_entries_payload_json_matches';

/**
 * A CHECK constraint that keeps each ledger entry's stored payload text (payload_json) equal, as
 * jsonb, to its jsonb payload. Chain verification compared the two columns of every entry it read,
 * which cost PostgreSQL about 2.3 µs per entry of 224 bytes (more than half of its work in a
 * verification) and about 17 µs per entry of 1.4 KB. Where this constraint is validated,
 * verification reads the text alone. Each entry is appended once and verified many times (every
 * scheduled verification and every export), so the append is the cheaper place for the same work.
 * The cast and `=` are resolved when the constraint is created. Retyping the payload column
 * rebuilds the constraint with the operators found then, which readPayloadTextCheck detects.
 *
 * The constraint is added NOT VALID and then validated, in two statements outside a transaction.
 * Adding it holds an ACCESS EXCLUSIVE lock only for a moment. Validating reads every entry under a
 * SHARE UPDATE EXCLUSIVE lock, which lets appends go on, but the process that runs migrations waits
 * for it: 2 to 17 µs per entry, about half an hour for 100 million entries of 1.4 KB. So on a
 * ledger of more than `validateMaxEntries` entries the migration only adds the constraint, and
 * `warden audit validate-payload-check` validates it later; until then new appends are checked and
 * verification compares the two columns as before. An entry whose text and jsonb differ, or
 * whose text is not JSON, was edited behind the ledger's triggers. Then the constraint stays NOT
 * VALID, new appends are still checked, and verification keeps comparing the two columns; the
 * migration does not fail, because the database must still open so that the edit can be found with
 * `warden audit verify`.
 * NOTE: on embedded PGlite 0.5.14 a text nested about 7,000 levels deep or more makes the
 * validation hang instead of failing, so the database does not open.
 */
export class LedgerPayloadTextCheck1796342402500 implements MigrationInterface {
  name = 'LedgerPayloadTextCheck1796342402500';
  transaction = false;

  /** @param validateMaxEntries the largest ledger that the migration validates the constraint on. */
  constructor(private readonly validateMaxEntries = 1_000_000) {}

  async up(queryRunner: QueryRunner): Promise<void> {
    const [existing]: { validated: boolean }[] = await queryRunner.query(
      `SELECT convalidated AS validated FROM pg_catalog.pg_constraint
        WHERE conrelid = 'audit.ledger_entries'::regclass AND conname = $1`,
      [CONSTRAINT],
    );
    if (existing?.validated) return;
    if (!existing) {
      await queryRunner.query(
        `ALTER TABLE audit.ledger_entries ADD CONSTRAINT ${CONSTRAINT}
           CHECK (payload_json IS NULL OR payload_json::jsonb = payload) NOT VALID`,
      );
    }
    // An exact count that stops one past the limit, so a large ledger costs only that many index entries.
    const [{ entries }]: { entries: number }[] = await queryRunner.query(
      `SELECT count(*)::int AS entries FROM (SELECT 1 FROM audit.ledger_entries LIMIT ${this.validateMaxEntries + 1}) AS head`,
    );
    if (entries > this.validateMaxEntries) return;
    try {
      await queryRunner.query(`ALTER TABLE audit.ledger_entries VALIDATE CONSTRAINT ${CONSTRAINT}`);
    } catch (error) {
      // 23514 check_violation: a text that differs from its jsonb. Class 22: a text that is not JSON.
      // 54001 stack depth limit exceeded: a text nested too deeply for PostgreSQL to parse.
      const code = (error as { code?: unknown }).code;
      const editedText = code === '23514' || code === '54001' || (typeof code === 'string' && code.startsWith('22'));
      if (!editedText) throw error;
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE audit.ledger_entries DROP CONSTRAINT IF EXISTS ${CONSTRAINT}`);
  }
}
