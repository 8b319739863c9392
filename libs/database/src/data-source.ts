import { DataSource, type EntityManager } from 'typeorm';
import { getLogger, type WardenConfig } from '../../common/src/index.js';
import { ALL_MIGRATIONS } from '../../../migrations/index.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';
import { withPinnedSearchPath } from './search-path.js';

/** An open database: the TypeORM data source plus what it takes to close it cleanly. */
export interface WardenDatabase {
  dataSource: DataSource;
  mode: 'embedded' | 'server';
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
    // would leave a window for another client of the socket.
    extra: embedded
      ? { max: 1, idleTimeoutMillis: 0, application_name: 'warden' }
      : { max: config.databasePoolSize, application_name: 'warden' },
  });

  try {
    await dataSource.initialize();
    if (options.migrate !== false) {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      if (applied.length > 0) log.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');
    }
  } catch (error) {
    if (dataSource.isInitialized) await dataSource.destroy();
    await embedded?.stop();
    throw error;
  }

  return {
    dataSource,
    mode: embedded ? 'embedded' : 'server',
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

/** Runs `work` in one transaction; commits when it resolves and rolls back when it throws. */
export function inTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  return dataSource.transaction(work);
}
