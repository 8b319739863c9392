import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { DataSource } from 'typeorm';

const {
  CHAIN_VERIFICATION_LOCK_KEY,
  CHAIN_VERIFIED_ENTRY_TYPE,
  ChainVerificationScheduler,
  PostgresLedger,
  recordChainVerification,
  runFullVerification,
} = await import('../../libs/audit/src/index.js');
const { databaseTargets } = await import('../support/databases.js');

type TestDatabase = import('../support/databases.js').TestDatabase;

/** Advisory lock key of PostgresLedger.append (ledger.ts), which the module does not export. */
const LEDGER_APPEND_LOCK_KEY = '6287397008076784711';
const DAY_MS = 24 * 60 * 60 * 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function chainVerifiedCount(source: DataSource): Promise<number> {
  const [row]: { count: number }[] = await source.query('SELECT count(*)::int AS count FROM audit.ledger_entries WHERE type = $1', [CHAIN_VERIFIED_ENTRY_TYPE]);
  return row.count;
}

for (const target of await databaseTargets()) {
  describe(`scheduled chain verification across replicas on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let source: DataSource;
    const ledger = new PostgresLedger();

    before(async () => {
      db = await target.open();
      source = db.database.dataSource;
      await ledger.appendStandalone(source, { type: 'access.denied', tenant: 'bank-c', actor: 'mallory', payload: { route: '/graphql' } });
    });
    after(async () => {
      await db?.cleanup();
    });

    it('scheduled run after a pass dated ahead', async () => {
      // A replica whose clock ran a day ahead (and was corrected later) recorded this pass. Its
      // startedAt is before its createdAt, so findLatestChainVerification accepts it.
      const ahead = new Date(Date.now() + DAY_MS);
      const aheadLedger = new PostgresLedger({ clock: () => new Date(ahead.getTime() + 1000) });
      const { verification } = await runFullVerification(source, { trigger: 'schedule', actor: 'system', record: false });
      await recordChainVerification(source, verification, { startedAt: ahead.toISOString(), durationMs: 5, trigger: 'schedule', actor: 'system' }, aheadLedger);

      const scheduler = new ChainVerificationScheduler(source, 2, ledger);
      const outcome = await scheduler.runScheduled();

      // A pass dated after now was not recorded "less than half an interval ago". Taking it as
      // recent makes every replica with a correct clock skip each run until that date passes.
      assert.equal(outcome.status, 'passed', `outcome ${JSON.stringify(outcome)}`);
    });
  });
}

const [, server] = await databaseTargets();

describe('scheduled chain verification lock on server', { skip: server.skipReason }, () => {
  let db: TestDatabase;
  let source: DataSource;
  const ledger = new PostgresLedger();

  before(async () => {
    db = await server.open();
    source = db.database.dataSource;
    await ledger.appendStandalone(source, { type: 'access.denied', tenant: 'bank-c', actor: 'mallory', payload: { route: '/graphql' } });
  });
  after(async () => {
    await db?.cleanup();
  });

  it('scheduled run with a pool of one', async () => {
    // WARDEN_DB_POOL_SIZE accepts 1. The gateway's pool waits for a free connection without a
    // time limit, so there the run and every request after it hang. This pool gives up after
    // five seconds, so the test ends.
    const single = new DataSource({
      type: 'postgres',
      url: db.config.databaseUrl,
      extra: { max: 1, connectionTimeoutMillis: 5000 },
    });
    await single.initialize();
    try {
      const scheduler = new ChainVerificationScheduler(single, 1, ledger);
      const outcome = await scheduler.runScheduled();

      const detail = outcome.status === 'error' ? String((outcome.error as Error).message) : JSON.stringify(outcome);
      assert.equal(outcome.status, 'passed', `outcome ${detail}`);
    } finally {
      await single.destroy();
    }
  });

  it('scheduled run whose lock session ends', async () => {
    const side = new pg.Client({ connectionString: db.config.databaseUrl });
    await side.connect();
    try {
      await sleep(600);
      const before = await chainVerifiedCount(source);
      // Holding the ledger's append lock stops the run at its record step, with the replica lock held.
      await side.query('SELECT pg_advisory_lock($1::bigint)', [LEDGER_APPEND_LOCK_KEY]);
      const scheduler = new ChainVerificationScheduler(source, 1, ledger);
      const run = scheduler.runScheduled();

      let holder: number | undefined;
      for (let attempt = 0; attempt < 200 && holder === undefined; attempt += 1) {
        // Other test files run at once on the same server, each in its own database, so only this
        // database's locks count.
        const { rows } = await side.query<{ pid: number }>(
          `SELECT pid FROM pg_locks
            WHERE locktype = 'advisory' AND granted AND ((classid::bigint << 32) | objid::bigint) = $1::bigint
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [CHAIN_VERIFICATION_LOCK_KEY],
        );
        const { rows: waiting } = await side.query<{ count: number }>(
          `SELECT count(*)::int AS count FROM pg_locks
            WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        );
        if (rows.length === 1 && waiting[0].count === 1) holder = rows[0].pid;
        else await sleep(25);
      }
      assert.ok(holder !== undefined, 'the run took the replica lock and waited for the append lock');

      // The session that holds the replica lock ends, as after an idle timeout of a proxy or of
      // idle_session_timeout during a long verification.
      await side.query('SELECT pg_terminate_backend($1)', [holder]);
      await side.query('SELECT pg_advisory_unlock($1::bigint)', [LEDGER_APPEND_LOCK_KEY]);
      const outcome = await run;

      assert.equal(await chainVerifiedCount(source), before + 1, 'the run verified the chain and recorded its pass');
      const detail = outcome.status === 'error' ? String((outcome.error as Error).message) : JSON.stringify(outcome);
      assert.equal(outcome.status, 'passed', `the recorded pass is reported as ${detail}`);
    } finally {
      await side.end();
    }
  });
});
