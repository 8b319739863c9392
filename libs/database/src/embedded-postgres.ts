import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { FailedPreconditionError, getLogger } from '../../common/src/index.js';

/**
 * An embedded PostgreSQL (PGlite, compiled to WASM, with pgvector) on a data folder, reachable
 * through a loopback socket so that the normal `pg` driver and TypeORM talk to it exactly as they
 * talk to a server.
 */
export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

const LOCK_FILE = 'warden.lock';

/**
 * Starts PGlite on `<dataDir>/pgdata`. Only one process may open a data folder at a time, because
 * two PGlite instances on one folder corrupt it; a lock file with the owner's PID enforces that.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const log = getLogger('embedded-postgres');
  mkdirSync(dataDir, { recursive: true });
  acquireLock(dataDir);

  try {
    const db = await PGlite.create({ dataDir: join(dataDir, 'pgdata'), extensions: { vector } });
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');

    // One connection is enough and the only safe choice: the socket server interleaves the
    // protocol messages of several clients on PGlite's single backend.
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
    const port = Number(server.getServerConn().split(':').pop());
    log.info({ dataDir, port }, 'embedded PostgreSQL started');

    let stopped = false;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      async stop() {
        if (stopped) return;
        stopped = true;
        await server.stop();
        await db.close();
        releaseLock(dataDir);
        log.info({ dataDir }, 'embedded PostgreSQL stopped');
      },
    };
  } catch (error) {
    releaseLock(dataDir);
    throw error;
  }
}

function acquireLock(dataDir: string): void {
  const lockPath = join(dataDir, LOCK_FILE);
  if (existsSync(lockPath)) {
    const owner = Number(readFileSync(lockPath, 'utf8').trim());
    if (Number.isInteger(owner) && owner !== process.pid && isProcessAlive(owner)) {
      throw new FailedPreconditionError(
        `The embedded database in ${dataDir} is in use by process ${owner}. Stop that process first, ` +
          'or run Warden against a PostgreSQL server (DATABASE_URL) so that several processes can share it.',
      );
    }
  }
  writeFileSync(lockPath, String(process.pid));
}

function releaseLock(dataDir: string): void {
  const lockPath = join(dataDir, LOCK_FILE);
  try {
    if (readFileSync(lockPath, 'utf8').trim() === String(process.pid)) rmSync(lockPath);
  } catch {
    // The lock file is already gone; nothing to release.
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
