import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { DatabaseUnavailableError } from '../../common/src/index.js';

/**
 * Messages of the errors pg-pool 3.14 raises when `connectionTimeoutMillis` runs out: the first for
 * a caller that waited for a connection of a full pool, the second for a new connection whose
 * startup did not finish. Neither error carries a code, so the message is the only mark.
 */
const WAIT_TIMEOUT_MESSAGES = new Set(['timeout exceeded when trying to connect', 'Connection terminated due to connection timeout']);

/** Returns true when `error` is node-postgres giving up on a connection after the pool wait. */
export function isPoolWaitTimeout(error: unknown): boolean {
  return error instanceof Error && WAIT_TIMEOUT_MESSAGES.has(error.message);
}

/**
 * Creates the error a caller sees when no connection came within the pool wait. It names no setting
 * and no cause, because those are for the operator, and the gateway logs them (poolWaitLogFields).
 */
export function databaseUnavailable(waitSeconds: number): DatabaseUnavailableError {
  return new DatabaseUnavailableError(`Timed out after ${waitSeconds} s waiting for a database connection. Retry later.`);
}

/** Returns the log fields of a pool wait timeout: the pool's state and the settings that change it. */
export function poolWaitLogFields(mode: 'embedded' | 'server', pool: PoolCounts | undefined, waitSeconds: number): Record<string, unknown> {
  return {
    mode,
    poolWaitSeconds: waitSeconds,
    poolSize: pool?.options.max,
    connections: pool?.totalCount,
    idleConnections: pool?.idleCount,
    waitingRequests: pool?.waitingCount,
    fix:
      mode === 'embedded'
        ? 'The embedded database has one connection: a long export, purge or verification in this process holds it. Run Warden on a PostgreSQL server (DATABASE_URL) for concurrent work, or raise WARDEN_DB_POOL_WAIT_SECONDS.'
        : 'Every connection was busy or PostgreSQL did not accept a new one. Raise WARDEN_DB_POOL_SIZE (within max_connections) or WARDEN_DB_POOL_WAIT_SECONDS, or find the long-running work in pg_stat_activity (application_name warden).',
  };
}

/** The counters of a pg Pool that the log line reports. */
export interface PoolCounts {
  options: { max?: number };
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/**
 * Returns true when the data source's pool has a single connection: always on embedded PGlite, and
 * on a server with WARDEN_DB_POOL_SIZE=1. Work that keeps a transaction open must not wait for a
 * second connection then, because it comes only when the transaction ends.
 */
export function hasSingleConnection(dataSource: DataSource): boolean {
  const pool = (dataSource.driver as PostgresDriver).master as { options?: { max?: number } } | undefined;
  return pool?.options?.max === 1;
}
