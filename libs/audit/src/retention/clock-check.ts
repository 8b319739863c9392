import { FailedPreconditionError } from '../../../common/src/index.js';

/** Maximum difference between this process's clock and the database's that purge and erasure accept. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Raises FailedPreconditionError when `now` differs from the database server's clock by more than
 * five minutes. Purges and erasures destroy data by date, so a host whose clock runs ahead could
 * otherwise remove records that the law still requires the bank to keep.
 * NOTE: embedded PGlite runs inside this process and reads the same clock, so there the check
 * cannot catch a wrong host clock. It protects deployments on a PostgreSQL server.
 */
export async function assertClockMatchesDatabase(queryable: { query(sql: string): Promise<unknown> }, now: Date): Promise<void> {
  const rows = (await queryable.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS now")) as { now: string }[];
  const databaseNow = new Date(rows[0].now);
  const skewMs = Math.abs(now.getTime() - databaseNow.getTime());
  if (skewMs > MAX_CLOCK_SKEW_MS) {
    throw new FailedPreconditionError(
      `This process's clock (${now.toISOString()}) differs from the database's (${databaseNow.toISOString()}) by ${Math.round(skewMs / 60_000)} minutes. ` +
        'Correct the host clock (NTP) before purging or erasing records.',
    );
  }
}
