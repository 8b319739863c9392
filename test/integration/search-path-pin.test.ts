// A role that can change a database's settings puts a schema of its own ahead of pg_catalog on the
// database-level search_path, with operators that shadow pg_catalog's. Every connection that Warden
// opens sends its own search_path at startup, so these cases check that Warden's queries still use
// pg_catalog's operators and that verification still finds an edited ledger entry.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { DataSource } from 'typeorm';

const { PostgresLedger, verifyLedger, GENESIS_PREV_HASH } = await import('../../libs/audit/src/index.js');
const { verifyChainRange } = await import('../../libs/audit/src/chain-range.js');
const { openDatabase, WARDEN_SEARCH_PATH, withPinnedSearchPath } = await import('../../libs/database/src/index.js');
const { createServerDatabase, databaseTargets } = await import('../support/databases.js');
const { FailedPreconditionError } = await import('../../libs/common/src/index.js');

type TestDatabase = import('../support/databases.js').TestDatabase;
type WardenDatabase = import('../../libs/database/src/index.js').WardenDatabase;
type VerifyEntryRow = import('../../libs/audit/src/chain-range.js').VerifyEntryRow;

const ENTRIES = 12;
/** The entry whose payload the cases edit. */
const EDITED_SEQ = 7;
const HOSTILE_SEARCH_PATH = 'evil, pg_catalog, public';

/**
 * SQL that creates schema `evil` with two shadowing operators: a jsonb equality that is always
 * true, and a bigint `>` that is false from EDITED_SEQ on. The latter makes `seq > $1` in the
 * verification batch stop before the edited entry, so a verification reads only the entries
 * before it and passes.
 */
const HOSTILE_OBJECTS_SQL = `
  CREATE SCHEMA evil;
  CREATE FUNCTION evil.always_equal(jsonb, jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT true $$;
  CREATE OPERATOR evil.= (LEFTARG = jsonb, RIGHTARG = jsonb, FUNCTION = evil.always_equal);
  CREATE FUNCTION evil.greater_before_edit(bigint, bigint) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT $1 OPERATOR(pg_catalog.>) $2 AND $1 OPERATOR(pg_catalog.<) ${EDITED_SEQ}::bigint $$;
  CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.greater_before_edit);
  DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET search_path = ${HOSTILE_SEARCH_PATH}', current_database());
  END $$;`;

/** SQL that sets the outcome in the edited entry's jsonb and text payloads to REFER, with the ledger's triggers off. */
const PAYLOAD_EDIT_SQL = `
  ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER;
  UPDATE audit.ledger_entries
     SET payload = jsonb_set(payload, '{outcome}', '"REFER"'),
         payload_json = regexp_replace(payload_json, '"outcome":"[A-Z]+"', '"outcome":"REFER"')
   WHERE seq = ${EDITED_SEQ};
  ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER;`;

/** The jsonb equality probe: true only where the always-true operator is in effect. */
const JSONB_PROBE_SQL = `SELECT '{"a":1}'::jsonb = '{"a":2}'::jsonb AS equal`;

const [, server] = await databaseTargets();

describe('search_path pin on server', { skip: server.skipReason }, () => {
  let db: TestDatabase;
  let reopened: WardenDatabase | undefined;
  let source: DataSource;
  /** A connection opened without Warden's search_path, as another client of the database would open one. */
  let unpinned: pg.Client | undefined;

  before(async () => {
    db = await server.open();
    const ledger = new PostgresLedger();
    await db.database.dataSource.transaction((manager) =>
      ledger.appendMany(
        manager,
        Array.from({ length: ENTRIES }, (_, i) => ({
          type: 'decision.created',
          tenant: 'bank-a',
          actor: 'svc-loans',
          payload: { decisionId: randomUUID(), outcome: i % 2 === 0 ? 'APPROVE' : 'DECLINE', score: i / 10 },
        })),
      ),
    );

    const admin = new pg.Client({ connectionString: db.config.databaseUrl });
    await admin.connect();
    try {
      await admin.query(HOSTILE_OBJECTS_SQL);
      await admin.query(PAYLOAD_EDIT_SQL);
    } finally {
      await admin.end();
    }

    // The database-level setting applies to sessions that start after it, so Warden opens the
    // database again, as a restarted gateway would.
    reopened = await openDatabase(db.config);
    source = reopened.dataSource;
    unpinned = new pg.Client({ connectionString: db.config.databaseUrl });
    await unpinned.connect();
  });

  after(async () => {
    await unpinned?.end();
    await reopened?.close();
    await db?.cleanup();
  });

  it('hostile path applies without the pin', async () => {
    const client = unpinned as pg.Client;
    const { rows: shown } = await client.query<{ search_path: string }>('SHOW search_path');
    assert.equal(shown[0].search_path, HOSTILE_SEARCH_PATH);
    const { rows: probe } = await client.query<{ equal: boolean }>(JSONB_PROBE_SQL);
    assert.equal(probe[0].equal, true, 'the always-true jsonb operator is in effect');

    const result = await verifyChainRange(async (sql: string, parameters: unknown[]) => (await client.query<VerifyEntryRow>(sql, parameters)).rows, {
      afterSeq: 0,
      prevHash: GENESIS_PREV_HASH,
      batchSize: 100,
      payloadTextsChecked: false,
    });
    assert.equal(result.ok, true, 'the shadowing > hides the edited entry from this connection');
    assert.equal(result.entries, EDITED_SEQ - 1);
  });

  it('Warden connection shows the pinned path', async () => {
    const [shown] = await source.query('SHOW search_path');
    assert.equal(shown.search_path, WARDEN_SEARCH_PATH);
    const [schemas] = await source.query('SELECT pg_catalog.current_schemas(true)::text[] AS schemas');
    assert.equal(schemas.schemas[0], 'pg_catalog', `searched schemas: ${schemas.schemas.join(', ')}`);
    assert.ok(!schemas.schemas.includes('evil'), `searched schemas: ${schemas.schemas.join(', ')}`);
    const [probe] = await source.query(JSONB_PROBE_SQL);
    assert.equal(probe.equal, false);
  });

  it('verification reports the edit', async () => {
    const verification = await verifyLedger(source, { parallel: 'never' });
    assert.equal(verification.ok, false, `verified ${verification.entries} entries`);
    assert.equal(verification.firstBadSeq, EDITED_SEQ);
    assert.equal(verification.problem, 'hash-mismatch');
  });

  it('worker thread reports the edit', async () => {
    for (const parallel of ['background', 'always'] as const) {
      const verification = await verifyLedger(source, { parallel });
      assert.equal(verification.ok, false, `${parallel}: verified ${verification.entries} entries`);
      assert.equal(verification.firstBadSeq, EDITED_SEQ, parallel);
    }
  });

  it('URL options cannot replace the path', async () => {
    const url = new URL(db.config.databaseUrl as string);
    url.searchParams.set('options', `-c statement_timeout=30s -c search_path=${HOSTILE_SEARCH_PATH.replaceAll(' ', '')}`);
    const client = new pg.Client({ connectionString: withPinnedSearchPath(url.toString()) });
    await client.connect();
    try {
      const { rows: shown } = await client.query<{ search_path: string }>('SHOW search_path');
      assert.equal(shown[0].search_path, WARDEN_SEARCH_PATH);
      const { rows: timeout } = await client.query<{ statement_timeout: string }>('SHOW statement_timeout');
      assert.equal(timeout[0].statement_timeout, '30s', 'the options of the URL still apply');
    } finally {
      await client.end();
    }
  });

  it('rejects objects outside the pinned path', async () => {
    // A Warden before the pin, whose role owned a schema of its own name, created these there.
    const fresh = await createServerDatabase();
    const admin = new pg.Client({ connectionString: fresh.url });
    await admin.connect();
    let opened: WardenDatabase | undefined;
    try {
      await admin.query(`
        CREATE SCHEMA "legacy ""ops""";
        CREATE TABLE "legacy ""ops""".warden_migrations (id serial PRIMARY KEY, timestamp bigint NOT NULL, name varchar NOT NULL);
        CREATE EXTENSION vector SCHEMA "legacy ""ops""";`);
      const config = { ...db.config, databaseUrl: fresh.url };
      await assert.rejects(openDatabase(config), (error: Error) => {
        assert.ok(error instanceof FailedPreconditionError, String(error));
        assert.equal(
          error.message,
          'Found the table warden_migrations in schema legacy "ops" and the pgvector extension in schema legacy "ops", but Warden\'s connections use ' +
            'search_path=public and would apply every migration again. Move them as the owner of the database, then start Warden again: ' +
            'ALTER TABLE "legacy ""ops""".warden_migrations SET SCHEMA public; ALTER EXTENSION vector SET SCHEMA public;',
        );
        return true;
      });
      const { rows: created } = await admin.query("SELECT pg_catalog.to_regclass('public.warden_migrations') AS migrations");
      assert.equal(created[0].migrations, null, 'nothing was migrated');

      await admin.query('ALTER TABLE "legacy ""ops""".warden_migrations SET SCHEMA public; ALTER EXTENSION vector SET SCHEMA public;');
      opened = await openDatabase(config);
      const [applied] = await opened.dataSource.query('SELECT count(*)::int AS count FROM public.warden_migrations');
      assert.ok(applied.count > 0, 'the migrations ran after the move');
    } finally {
      await opened?.close();
      await admin.end();
      await fresh.drop();
    }
  });
});
