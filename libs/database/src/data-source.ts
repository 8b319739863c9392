import { DataSource, type EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { FailedPreconditionError, getLogger, type DatabaseUnavailableError, type WardenConfig } from '../../common/src/index.js';
import { ALL_MIGRATIONS } from '../../../migrations/index.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { databaseUnavailable, isPoolWaitTimeout, poolWaitLogFields, type PoolCounts } from './pool-wait.js';
import { WARDEN_SEARCH_PATH, withPinnedSearchPath } from './search-path.js';

/** An open database: the TypeORM data source plus what it takes to close it cleanly. */
export interface WardenDatabase {
  dataSource: DataSource;
  mode: 'embedded' | 'server';
  /**
   * Returns the DATABASE_UNAVAILABLE error to show the caller when `error` is the pool giving up
   * after WARDEN_DB_POOL_WAIT_SECONDS, and undefined for any other error. It also logs a warning
   * with the pool's state and the settings that fix it, at most one per 10 s with the number of
   * timeouts since the previous one.
   */
  poolWaitTimeout(error: unknown): DatabaseUnavailableError | undefined;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** Runs pending migrations after connecting (default true). */
  migrate?: boolean;
}

/**
 * Opens PostgreSQL: the server named by DATABASE_URL, or embedded PGlite on WARDEN_DATA_DIR when
 * it is unset. Schema changes come only from migrations; `synchronize` is always off. Every
 * connection starts with the search_path WARDEN_SEARCH_PATH. On a server the `options` startup
 * parameter in the URL sets it, and worker threads get it with the URL. On PGlite,
 * startEmbeddedPostgres sets it on the one session that every connection shares.
 */
export async function openDatabase(config: WardenConfig, options: OpenDatabaseOptions = {}): Promise<WardenDatabase> {
  const log = getLogger('database');
  const serverUrl = config.databaseUrl ? withPinnedSearchPath(config.databaseUrl) : undefined;
  const embedded: EmbeddedPostgres | undefined = serverUrl ? undefined : await startEmbeddedPostgres(config.dataDir);
  const connection = embedded
    ? { host: embedded.host, port: embedded.port, username: 'postgres', database: 'postgres' }
    : { url: serverUrl };

  const dataSource = new DataSource({
    type: 'postgres',
    ...connection,
    synchronize: false,
    migrationsRun: false,
    migrations: ALL_MIGRATIONS,
    migrationsTableName: 'warden_migrations',
    entities: [],
    logging: false,
    // The embedded pool keeps its one connection open (idle timeout 0): closing and reopening it
    // would leave a window for another client of the socket. In both modes a request that waits
    // longer than the pool wait for a connection fails instead of waiting on. With one embedded
    // connection, work that requests a second one while it keeps the first would otherwise stop
    // every request of the process.
    extra: {
      ...(embedded ? { max: 1, idleTimeoutMillis: 0 } : { max: config.databasePoolSize }),
      connectionTimeoutMillis: config.databasePoolWaitSeconds * 1000,
      application_name: 'warden',
    },
  });

  try {
    await dataSource.initialize();
    if (!embedded) await checkUnpinnedSchemaObjects(dataSource);
    if (options.migrate !== false) {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
    }
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw error;
  }

  const mode = embedded ? 'embedded' : 'server';
  // A burst of timed-out requests logs one warning per interval, which counts them.
  let lastWarningAt = Number.NEGATIVE_INFINITY;
  let timeoutsSinceWarning = 0;
  return {
    dataSource,
    mode,
    poolWaitTimeout(error) {
      if (!isPoolWaitTimeout(error)) return undefined;
      timeoutsSinceWarning += 1;
      const now = Date.now();
      if (now - lastWarningAt >= POOL_WAIT_WARNING_INTERVAL_MS) {
        const pool = (dataSource.driver as PostgresDriver).master as PoolCounts | undefined;
        log.warn({ ...poolWaitLogFields(mode, pool, config.databasePoolWaitSeconds), timeouts: timeoutsSinceWarning }, 'timed out waiting for a database connection');
        lastWarningAt = now;
        timeoutsSinceWarning = 0;
      }
      return databaseUnavailable(config.databasePoolWaitSeconds);
    },
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

/** Shortest time between two warnings about requests that timed out waiting for a connection. */
const POOL_WAIT_WARNING_INTERVAL_MS = 10_000;

/** Migrations table name, which openDatabase passes to TypeORM. */
const MIGRATIONS_TABLE = 'warden_migrations';

/**
 * Raises when the migrations table or the pgvector extension sits outside WARDEN_SEARCH_PATH, where
 * a Warden from before the pinned search_path may have put them: PostgreSQL's default path starts
 * with the schema named after the role ("$user"). Warden would then not see them, apply every
 * migration again and fail midway, so the error names the statements that move them instead.
 */
async function checkUnpinnedSchemaObjects(dataSource: DataSource): Promise<void> {
  const misplaced: { kind: 'table' | 'extension'; schema: string }[] = await dataSource.query(
    `SELECT 'table' AS kind, n.nspname AS schema
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = $1 AND c.relkind = 'r' AND n.nspname OPERATOR(pg_catalog.<>) $2
        AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class p JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace
                         WHERE p.relname = $1 AND pn.nspname = $2)
     UNION ALL
     SELECT 'extension', n.nspname
       FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
      WHERE e.extname = 'vector' AND n.nspname OPERATOR(pg_catalog.<>) $2`,
    [MIGRATIONS_TABLE, WARDEN_SEARCH_PATH],
  );
  if (misplaced.length === 0) return;
  const moves = misplaced.map(({ kind, schema }) =>
    kind === 'table'
      ? `ALTER TABLE ${quoteIdentifier(schema)}.${MIGRATIONS_TABLE} SET SCHEMA ${WARDEN_SEARCH_PATH};`
      : `ALTER EXTENSION vector SET SCHEMA ${WARDEN_SEARCH_PATH};`,
  );
  const found = misplaced.map(({ kind, schema }) => (kind === 'table' ? `the table ${MIGRATIONS_TABLE}` : 'the pgvector extension') + ` in schema ${schema}`);
  throw new FailedPreconditionError(
    `Found ${found.join(' and ')}, but Warden's connections use search_path=${WARDEN_SEARCH_PATH} and would apply every migration again. ` +
      `Move them as the owner of the database, then start Warden again: ${moves.join(' ')}`,
  );
}

/** Quotes an SQL identifier, doubling its quotes. */
function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Runs `work` in one transaction; commits when it resolves and rolls back when it throws. */
export function inTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return dataSource.transaction(work);
}
