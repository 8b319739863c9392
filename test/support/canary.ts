import type { DataSource } from 'typeorm';

/**
 * Canary values for leak tests: a valid German IBAN, a Visa test card number and a US SSN in a
 * valid range, each in the forms a leak could take (as sent, without separators).
 */
export const CANARY = {
  iban: 'DE89 3704 0044 0532 0130 00',
  card: '4111 1111 1111 1111',
  ssn: '078-05-1123',
} as const;

/** Strings that must not appear anywhere: every canary with and without its separators. */
export const CANARY_NEEDLES: string[] = Object.values(CANARY).flatMap((value) => [value, value.replace(/[\s-]/g, '')]);

/** Returns every needle that occurs in `haystack`, so a failing assertion names what leaked. */
export function findCanaries(haystack: string): string[] {
  return CANARY_NEEDLES.filter((needle) => haystack.includes(needle));
}

/**
 * Reads every row of every table in Warden's schemas as text and returns `schema.table: needle`
 * for each canary found. Bytea columns are decoded as Latin-1 so raw bytes are searched too.
 * `exclude` lists tables (schema.table) that may hold the values, such as the encrypted vault.
 */
export async function canariesInDatabase(dataSource: DataSource, exclude: readonly string[] = []): Promise<string[]> {
  const tables: { schema: string; name: string }[] = await dataSource.query(
    `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1, 2`,
  );
  const hits: string[] = [];
  for (const { schema, name } of tables) {
    const qualified = `${schema}.${name}`;
    if (exclude.includes(qualified)) continue;
    const rows: Record<string, unknown>[] = await dataSource.query(`SELECT * FROM "${schema}"."${name}"`);
    const text = rows
      .map((row) =>
        Object.values(row)
          .map((value) => (Buffer.isBuffer(value) ? value.toString('latin1') : typeof value === 'string' ? value : JSON.stringify(value)))
          .join('\u0001'),
      )
      .join('\n');
    for (const needle of findCanaries(text)) hits.push(`${qualified}: ${needle}`);
  }
  return hits;
}
