import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The columns that can hold values past the TOAST threshold (about 2 KB): decision records and ledger payloads. */
const COMPRESSED_COLUMNS = [
  ['decisions.decision_records', 'record'],
  ['decisions.decision_records', 'record_json'],
  ['audit.ledger_entries', 'payload'],
  ['audit.ledger_entries', 'payload_json'],
] as const;

/**
 * Compresses new values of the decision record and ledger payload columns with LZ4 instead of
 * PostgreSQL's default pglz, where the server was built with LZ4 (PostgreSQL 14 and later, such as
 * Debian's PostgreSQL 15 package). A sealed credit decision is about 4.4 KB of text and is stored
 * twice (record_json and the jsonb record), so both values are compressed on every insert and the
 * text is decompressed for every exported decision. On 50,000 such records in scratch tables
 * (PostgreSQL 15), reading the texts took about 330 ms with LZ4 against 550 ms with pglz, and
 * inserting them 1.3 s against 3.5 s (BENCHMARKS.md, the LZ4 section). Decision ledger payloads
 * are a few hundred bytes and stay uncompressed either way. Stored values keep the method they
 * were written with, and PostgreSQL reads both, so nothing is rewritten. Embedded PGlite is built
 * without LZ4 and keeps pglz.
 */
export class Lz4Compression1796342402300 implements MigrationInterface {
  name = 'Lz4Compression1796342402300';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (!(await supportsLz4(queryRunner))) return;
    for (const [table, column] of COMPRESSED_COLUMNS) {
      await queryRunner.query(`ALTER TABLE ${table} ALTER COLUMN ${column} SET COMPRESSION lz4`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const [table, column] of COMPRESSED_COLUMNS) {
      await queryRunner.query(`ALTER TABLE ${table} ALTER COLUMN ${column} SET COMPRESSION DEFAULT`);
    }
  }
}

/** Returns whether the server can compress with LZ4, from the values default_toast_compression accepts. */
async function supportsLz4(queryRunner: QueryRunner): Promise<boolean> {
  const rows: { lz4: boolean }[] = await queryRunner.query(
    "SELECT coalesce('lz4' = ANY(enumvals), false) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'",
  );
  return rows[0]?.lz4 === true;
}
