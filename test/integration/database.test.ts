import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
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
