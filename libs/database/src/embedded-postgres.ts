import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { FailedPreconditionError, getLogger } from '../../common/src/index.js';
import { WARDEN_SEARCH_PATH } from './search-path.js';

/**
 * An embedded PostgreSQL (PGlite, compiled to WASM, with pgvector) on a data folder, reachable
 * through a loopback socket so that the normal `pg` driver and TypeORM talk to it exactly as they
 * talk to a server.
 */
export interface EmbeddedPostgres {
  /** A socket folder (starting with `/`) or 127.0.0.1, as the pg driver's `host` option takes it. */
  host: string;
  port: number;
  stop(): Promise<void>;
}

/** Port number in the socket file name; pg looks for `<host>/.s.PGSQL.<port>`. */
const SOCKET_PORT = 5432;

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the closing NUL). */
const MAX_SOCKET_PATH = 107;

const LOCK_FILE = 'warden.lock';

/**
 * Starts PGlite on `<dataDir>/pgdata`. Only one process may open a data folder at a time, because
 * two PGlite instances on one folder corrupt it. A lock file with the owner's PID enforces that.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const log = getLogger('embedded-postgres');
  mkdirSync(dataDir, { recursive: true });
  acquireLock(dataDir);

  try {
    const db = await PGlite.create({ dataDir: join(dataDir, 'pgdata'), extensions: { vector } });
    await db.exec('CREATE EXTENSION IF NOT EXISTS vector');
    // Every socket client shares this one PGlite session, and PGlite ignores the `options` of a
    // client's startup message (PGlite 0.5.14, pglite-socket 0.2.17), so the search_path is set on
    // the session before the socket opens. A session SET overrides ALTER DATABASE and ALTER ROLE
    // settings (which PGlite 0.5.14 does not apply at start either) until a client runs RESET.
    await db.exec(`SET search_path TO ${WARDEN_SEARCH_PATH}`);

    // One connection is enough and the only safe choice: the socket server interleaves the
    // protocol messages of several clients on PGlite's single backend. PGlite has no passwords, so
    // the server listens on a Unix socket inside the data folder that only this user can open; a
    // loopback TCP port would let any local user in as superuser.
    const socketPath = join(dataDir, `.s.PGSQL.${SOCKET_PORT}`);
    let host: string;
    let port: number;
    let server: PGLiteSocketServer;
    if (Buffer.byteLength(socketPath) <= MAX_SOCKET_PATH) {
      // The lock is held, so a socket file left here belongs to a process that died.
      rmSync(socketPath, { force: true });
      server = new PGLiteSocketServer({ db, path: socketPath, maxConnections: 1 });
      await server.start();
      chmodSync(socketPath, 0o600);
      host = dataDir;
      port = SOCKET_PORT;
    } else {
      // NOTE: a data folder path too long for a Unix socket falls back to an unauthenticated
      // loopback port, reachable by other local users while Warden runs.
      log.warn({ dataDir }, 'data folder path is too long for a Unix socket; listening on a loopback port instead');
      server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
      await server.start();
      host = '127.0.0.1';
      port = Number(server.getServerConn().split(':').pop());
    }
    log.info({ dataDir, socket: host.startsWith('/') }, 'embedded PostgreSQL started');

    let stopped = false;
    return {
      host,
      port,
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
