import { DataSource, type EntityManager } from 'typeorm';
import { getLogger, type WardenConfig } from '../../common/src/index.js';
import { ALL_MIGRATIONS } from '../../../migrations/index.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.js';

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
 * it is unset. Schema changes come only from migrations; `synchronize` is always off.
 */
export async function openDatabase(config: WardenConfig, options: OpenDatabaseOptions = {}): Promise<WardenDatabase> {
  const log = getLogger('database');
  let embedded: EmbeddedPostgres | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres(config.dataDir);
    url = embedded.url;
  }

  const dataSource = new DataSource({
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations: ALL_MIGRATIONS,
    migrationsTableName: 'warden_migrations',
    entities: [],
    logging: false,
    extra: { max: embedded ? 1 : config.databasePoolSize, application_name: 'warden' },
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
