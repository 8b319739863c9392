import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, type WardenConfig } from '../../libs/common/src/index.js';
import { openDatabase, type WardenDatabase } from '../../libs/database/src/index.js';

/** A fresh, migrated database for one test suite, and how to throw it away. */
export interface TestDatabase {
  config: WardenConfig;
  database: WardenDatabase;
  cleanup(): Promise<void>;
}

export interface DatabaseTarget {
  name: 'embedded' | 'server';
  /** Set when this target cannot run here; node:test prints it as the skip reason. */
  skipReason: string | undefined;
  open(overrides?: Partial<WardenConfig>): Promise<TestDatabase>;
}

/** Repository root, found from this file's compiled location (dist/test/support). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

const ADMIN_URL = process.env.WARDEN_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let serverCheck: Promise<string | undefined> | undefined;

/** Checks once whether the PostgreSQL test server is reachable and has pgvector. */
export async function serverSkipReason(): Promise<string | undefined> {
  serverCheck ??= (async () => {
    const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      const result = await client.query("SELECT count(*)::int AS n FROM pg_available_extensions WHERE name = 'vector'");
      if (result.rows[0].n !== 1) return 'the PostgreSQL test server has no pgvector; run scripts/install-pgvector.sh';
      return undefined;
    } catch (error) {
      return `no PostgreSQL test server at WARDEN_TEST_DATABASE_URL (${(error as Error).message})`;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  const reason = await serverCheck;
  if (reason && process.env.CI === 'true') throw new Error(`CI needs the PostgreSQL test server: ${reason}`);
  return reason;
}

function testConfig(overrides: Partial<WardenConfig>): WardenConfig {
  return {
    ...loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' }),
    policyDir: join(REPO_ROOT, 'policies'),
    ...overrides,
  };
}

async function openEmbedded(overrides: Partial<WardenConfig> = {}): Promise<TestDatabase> {
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  const config = testConfig({ dataDir, databaseUrl: undefined, ...overrides });
  const database = await openDatabase(config);
  return {
    config,
    database,
    async cleanup() {
      await database.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** An empty database on the PostgreSQL test server, not yet opened or migrated. */
export interface ServerDatabase {
  url: string;
  /** Drops the database, ending any sessions still connected to it. */
  drop(): Promise<void>;
}

/** Creates a fresh, empty database on the PostgreSQL test server, for callers that open it themselves. */
export async function createServerDatabase(): Promise<ServerDatabase> {
  const name = `warden_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();

  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const cleaner = new pg.Client({ connectionString: ADMIN_URL });
      await cleaner.connect();
      await cleaner.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleaner.end();
    },
  };
}

async function openServer(overrides: Partial<WardenConfig> = {}): Promise<TestDatabase> {
  const server = await createServerDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'warden-test-'));
  const config = testConfig({ dataDir, databaseUrl: server.url, ...overrides });
  const database = await openDatabase(config);
  return {
    config,
    database,
    async cleanup() {
      await database.close();
      await server.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Both database targets. Integration suites loop over them so that the same migrations and
 * queries are proven on embedded PGlite and on the PostgreSQL server.
 */
export async function databaseTargets(): Promise<DatabaseTarget[]> {
  return [
    { name: 'embedded', skipReason: undefined, open: openEmbedded },
    { name: 'server', skipReason: await serverSkipReason(), open: openServer },
  ];
}

/** Resolves a path under ../shared/data; in CI a missing file fails, elsewhere the caller skips. */
export function sharedDataPath(relative: string): { path: string; skipReason: string | undefined } {
  const path = resolve(REPO_ROOT, '..', 'shared', 'data', relative);
  if (existsSync(path)) return { path, skipReason: undefined };
  if (process.env.CI === 'true') throw new Error(`CI needs the shared data file ${path}`);
  return { path, skipReason: `shared data missing: ${path}` };
}
