// A request that gets no database connection within WARDEN_DB_POOL_WAIT_SECONDS fails with
// DATABASE_UNAVAILABLE instead of waiting on. Before the bound, work that held the embedded
// database's one connection and asked for a second stopped every request of the process for good.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { TestGateway } from '../support/gateway.js';

// Imported before the dynamic imports below, so the root logger writes to logLines.
import { logLines } from '../support/log-capture.js';

const { databaseTargets } = await import('../support/databases.js');
const { startTestGateway } = await import('../support/gateway.js');
const { cliEnvironment, runCli } = await import('../support/cli.js');
const { PostgresLedger, startExportChainCheck } = await import('../../libs/audit/src/index.js');
const { hasSingleConnection } = await import('../../libs/database/src/index.js');

const WAIT_SECONDS = 1;
const UNKNOWN_DECISION = '00000000-0000-4000-8000-000000000000';
const DECISION = 'query Decision($id: ID!) { decision(id: $id) { id } }';
const WARNING = 'timed out waiting for a database connection';

interface LogLine {
  level: number;
  msg: string;
  mode?: string;
  poolWaitSeconds?: number;
  waitingRequests?: number;
  timeouts?: number;
  fix?: string;
}

/** Creates a deferred promise: `release()` resolves `released`. */
function gate(): { released: Promise<void>; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { released, release };
}

for (const target of await databaseTargets()) {
  describe(`database pool wait on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    let token: string;

    before(async () => {
      // One connection in both modes, so that one open transaction takes all of them.
      gw = await startTestGateway(target, { databasePoolWaitSeconds: WAIT_SECONDS, databasePoolSize: 1 });
      token = await gw.token('bank-a', ['auditor'], 'auditor@bank-a');
    });
    after(async () => {
      await gw?.close();
    });

    /** Holds the pool's only connection in a transaction until the returned release is called. */
    async function holdTheConnection(): Promise<{ release: () => Promise<void> }> {
      const { released, release } = gate();
      const started = gate();
      const transaction = gw.runtime.database.dataSource.transaction(async (manager) => {
        await manager.query('SELECT 1');
        started.release();
        await released;
      });
      await started.released;
      return {
        async release() {
          release();
          await transaction;
        },
      };
    }

    it('answers a GraphQL request with DATABASE_UNAVAILABLE and logs the fix', async () => {
      const before = logLines.length;
      const holder = await holdTheConnection();
      let response: Awaited<ReturnType<TestGateway['graphql']>>;
      let second: Awaited<ReturnType<TestGateway['graphql']>>;
      const startedAt = performance.now();
      try {
        [response, second] = await Promise.all([gw.graphql(DECISION, { id: UNKNOWN_DECISION }, token), gw.graphql(DECISION, { id: UNKNOWN_DECISION }, token)]);
      } finally {
        await holder.release();
      }
      assert.equal(second.body.errors?.[0]?.extensions?.code, 'DATABASE_UNAVAILABLE', JSON.stringify(second.body));
      const waitedMs = performance.now() - startedAt;

      const error = response.body.errors?.[0];
      assert.equal(error?.extensions?.code, 'DATABASE_UNAVAILABLE', JSON.stringify(response.body));
      assert.equal(error?.message, `Timed out after ${WAIT_SECONDS} s waiting for a database connection. Retry later.`);
      assert.deepEqual(Object.keys(error?.extensions ?? {}), ['code'], 'nothing but the code reaches the caller');
      assert.ok(waitedMs >= WAIT_SECONDS * 1000 - 50, `answered after ${waitedMs} ms, before the wait ran out`);

      const warnings = logLines.slice(before).map((line) => JSON.parse(line) as LogLine).filter((line) => line.msg === WARNING);
      assert.equal(warnings.length, 1, 'one warning for both timed-out requests');
      // The second timeout is counted in the next warning, at least 10 s later.
      assert.equal(warnings[0].timeouts, 1);
      assert.equal(warnings[0].level, 40);
      assert.equal(warnings[0].mode, target.name);
      assert.equal(warnings[0].poolWaitSeconds, WAIT_SECONDS);
      assert.match(warnings[0].fix ?? '', target.name === 'embedded' ? /DATABASE_URL/ : /WARDEN_DB_POOL_SIZE/);
      assert.ok(
        !logLines.slice(before).some((line) => line.includes('unexpected error in a GraphQL operation')),
        'a pool wait timeout is not logged as an unexpected error',
      );
    });

    it('serves requests again once the connection is free', async () => {
      const response = await gw.graphql(DECISION, { id: UNKNOWN_DECISION }, token);
      assert.equal(response.body.errors?.[0]?.extensions?.code, 'NOT_FOUND', JSON.stringify(response.body));
    });

    it('answers a proxy request with HTTP 503 in the OpenAI error shape', async () => {
      const holder = await holdTheConnection();
      let status: number;
      let body: { error?: { code?: string; type?: string; message?: string } };
      try {
        const response = await fetch(new URL('/v1/chat/completions', gw.gateway.graphqlUrl), {
          method: 'POST',
          // An API key is looked up in the database, so the request needs a connection at once.
          headers: { 'content-type': 'application/json', authorization: 'Bearer wdn_00000000000000000000000000000000' },
          body: JSON.stringify({ model: 'any', messages: [{ role: 'user', content: 'hello' }] }),
        });
        status = response.status;
        body = (await response.json()) as typeof body;
      } finally {
        await holder.release();
      }
      assert.equal(status, 503, JSON.stringify(body));
      assert.equal(body.error?.code, 'database_unavailable');
      assert.equal(body.error?.type, 'server_error');
      assert.match(body.error?.message ?? '', /Retry later/);
    });
  });
}

const embedded = (await databaseTargets()).find((candidate) => candidate.name === 'embedded')!;

describe('export chain check on the embedded database', () => {
  const target = embedded;
  let db: Awaited<ReturnType<typeof target.open>>;

  before(async () => {
    db = await target.open({ databasePoolWaitSeconds: WAIT_SECONDS });
    const ledger = new PostgresLedger();
    for (let i = 0; i < 3; i++) await ledger.appendStandalone(db.database.dataSource, { type: 'test.entry', tenant: 'bank-a', actor: 'test', payload: { i } });
  });
  after(async () => {
    await db?.cleanup();
  });

  it('starts after a transaction that outlasts the pool wait', async () => {
    const dataSource = db.database.dataSource;
    assert.equal(hasSingleConnection(dataSource), true);
    let endTransaction!: () => void;
    const transactionEnded = new Promise<void>((resolve) => (endTransaction = resolve));
    let check: Awaited<ReturnType<typeof startExportChainCheck>> | undefined;
    // The export's transaction keeps the only connection for longer than the pool wait. A check
    // that requested a connection at once would time out instead of verifying.
    await dataSource
      .transaction('REPEATABLE READ', async (manager) => {
        check = await startExportChainCheck(manager, dataSource, { mode: 'full', maxVerificationAgeSeconds: 60, actor: 'test', startAfter: transactionEnded });
        await new Promise((resolve) => setTimeout(resolve, WAIT_SECONDS * 1000 + 500));
      })
      .finally(endTransaction);
    const result = await check!.result;
    assert.equal(result.verification.ok, true, JSON.stringify(result.verification));
    assert.equal(result.verification.entries, 3);
  });
});

describe('warden CLI against a server that never answers', () => {
  let silent: Server;
  let port: number;
  const sockets = new Set<Socket>();

  before(async () => {
    // Accepts TCP connections and never sends a byte, like a PostgreSQL server that hangs.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as { port: number }).port;
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('gives up after the pool wait and names the setting', async () => {
    const result = await runCli(
      ['audit', 'verify'],
      cliEnvironment({ DATABASE_URL: `postgres://warden@127.0.0.1:${port}/warden`, WARDEN_DB_POOL_WAIT_SECONDS: String(WAIT_SECONDS) }),
    );
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /timed out waiting for a database connection \(WARDEN_DB_POOL_WAIT_SECONDS\)\. Check that the PostgreSQL server in DATABASE_URL/);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  });
});
