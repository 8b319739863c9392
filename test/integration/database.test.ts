import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PostgresLedger, runFullVerification } from '../../libs/audit/src/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';

for (const target of await databaseTargets()) {
  describe(`database on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    before(async () => {
      db = await target.open();
    });
    after(async () => {
      await db?.cleanup();
    });

    it('applies every migration', async () => {
      const rows = await db.database.dataSource.query('SELECT name FROM warden_migrations ORDER BY id');
      assert.ok(rows.length >= 5, `expected at least 5 migrations, got ${rows.length}`);
    });

    it('has the pgvector extension', async () => {
      const rows = await db.database.dataSource.query("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
      assert.equal(rows.length, 1);
    });

    it('sets LZ4 where the server has it', async () => {
      const source = db.database.dataSource;
      const [{ lz4 }] = await source.query(
        "SELECT coalesce('lz4' = ANY(enumvals), false) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'",
      );
      // The Debian server has LZ4. PGlite is built without it and keeps the default method.
      assert.equal(lz4, target.name === 'server', `LZ4 support is ${String(lz4)} on the ${target.name} database; the test server must be built with LZ4`);
      const columns: { relation: string; attname: string; method: string }[] = await source.query(
        `SELECT attrelid::regclass::text AS relation, attname, attcompression::text AS method FROM pg_attribute
          WHERE (attrelid = 'decisions.decision_records'::regclass AND attname IN ('record', 'record_json'))
             OR (attrelid = 'audit.ledger_entries'::regclass AND attname IN ('payload', 'payload_json'))
          ORDER BY 1, 2`,
      );
      assert.equal(columns.length, 4);
      for (const column of columns) assert.equal(column.method, lz4 ? 'l' : '', `${column.relation}.${column.attname}`);

      // A payload past the TOAST threshold is compressed with the column's method and still verifies.
      const ledger = new PostgresLedger();
      const payload = { note: 'compressed '.repeat(800), values: Array.from({ length: 500 }, (_, i) => i * 7) };
      const [receipt] = await source.transaction((manager) =>
        ledger.appendMany(manager, [{ type: 'model.registered', tenant: 'probe-bank', actor: 'probe', payload }]),
      );
      const [row] = await source.query(
        'SELECT payload_json, pg_column_compression(payload_json) AS text_method, pg_column_compression(payload) AS jsonb_method FROM audit.ledger_entries WHERE seq = $1',
        [receipt.seq],
      );
      assert.deepEqual(JSON.parse(row.payload_json), payload);
      assert.equal(row.text_method, lz4 ? 'lz4' : 'pglz');
      assert.equal(row.jsonb_method, lz4 ? 'lz4' : 'pglz');
      const { verification } = await runFullVerification(source, { trigger: 'cli', actor: 'probe', ledger });
      assert.equal(verification.ok, true, verification.reason);
    });

    if (target.name === 'embedded') {
      it('listens only on a private socket', () => {
        const socket = statSync(join(db.config.dataDir, '.s.PGSQL.5432'));
        assert.ok(socket.isSocket());
        assert.equal(socket.mode & 0o777, 0o600);
      });
    }

    it('rolls back a failed transaction', async () => {
      const source = db.database.dataSource;
      await source.query('CREATE TABLE rollback_probe (id int)');
      await assert.rejects(
        source.transaction(async (manager) => {
          await manager.query('INSERT INTO rollback_probe VALUES (1)');
          throw new Error('abort on purpose');
        }),
        /abort on purpose/,
      );
      const rows = await source.query('SELECT count(*)::int AS n FROM rollback_probe');
      assert.equal(rows[0].n, 0);
    });
  });
}
