import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { QueryRunner } from 'typeorm';
import { BadUserInputError, canonicalJson, FailedPreconditionError, sha256Hex } from '../../libs/common/src/index.js';
import { GENESIS_PREV_HASH, PostgresLedger, verifyLedger, type LedgerReceipt } from '../../libs/audit/src/index.js';
import { verifyChainRangeInWorker } from '../../libs/audit/src/ledger.js';
import { entryHashText } from '../../libs/audit/src/ledger-hash.js';
import { Ledger1796342400100 } from '../../migrations/1796342400100-Ledger.js';
import { ALL_MIGRATIONS } from '../../migrations/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';

const entry = (n: number) => ({
  type: 'test.event',
  tenant: n % 2 === 0 ? 'bank-b' : 'bank-a',
  actor: 'tester',
  payload: { n, nested: { z: 1, a: [n, 'x'] } },
});

async function countEntries(db: TestDatabase): Promise<number> {
  const rows = await db.database.dataSource.query('SELECT count(*)::int AS n FROM audit.ledger_entries');
  return rows[0].n;
}

for (const target of await databaseTargets()) {
  describe(`ledger on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    const ledger = new PostgresLedger();
    before(async () => {
      db = await target.open();
    });
    after(async () => {
      await db?.cleanup();
    });

    it('chains 200 concurrent appends', async () => {
      const source = db.database.dataSource;
      const receipts = await Promise.all(Array.from({ length: 200 }, (_, i) => ledger.appendStandalone(source, entry(i))));

      const sorted = [...receipts].sort((a, b) => a.seq - b.seq);
      assert.deepEqual(
        sorted.map((receipt) => receipt.seq),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.equal(sorted[0].prevHash, GENESIS_PREV_HASH);
      for (let i = 1; i < sorted.length; i += 1) assert.equal(sorted[i].prevHash, sorted[i - 1].hash);
      assert.equal(new Set(receipts.map((receipt) => receipt.hash)).size, 200);

      const verification = await verifyLedger(source, { batchSize: 64 });
      assert.deepEqual(verification, { ok: true, entries: 200, headSeq: 200, headHash: sorted[199].hash });
    });

    it('appends and reports the head', async () => {
      const source = db.database.dataSource;
      const headBefore = await ledger.head(source);
      const first = await ledger.appendStandalone(source, entry(1));
      const second = await ledger.appendStandalone(source, entry(2));

      assert.equal(first.seq, headBefore.seq + 1);
      assert.equal(first.prevHash, headBefore.hash);
      assert.equal(second.seq, headBefore.seq + 2);
      assert.equal(second.prevHash, first.hash);
      assert.match(second.createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.deepEqual(await ledger.head(source), { seq: second.seq, hash: second.hash });
    });

    it('stores createdAt exactly as hashed', async () => {
      const source = db.database.dataSource;
      const pinned = new PostgresLedger({ clock: () => new Date('2026-03-04T05:06:07.089Z') });
      const receipt = await pinned.appendStandalone(source, entry(3));
      const rows = await source.query('SELECT created_at FROM audit.ledger_entries WHERE seq = $1', [receipt.seq]);
      assert.equal(receipt.createdAt, '2026-03-04T05:06:07.089Z');
      assert.equal(new Date(rows[0].created_at).toISOString(), '2026-03-04T05:06:07.089Z');
      assert.equal((await verifyLedger(source)).ok, true);
    });

    it('round-trips awkward payloads through jsonb', async () => {
      const source = db.database.dataSource;
      const payloads = [
        { b: 1, a: 2, 'é': 'ünïcode ✓', '\u20ac': 'euro', '1': 'digit key' },
        { big: 1e21, small: 1.5e-7, third: 0.1 + 0.2, negativeZero: -0, max: Number.MAX_SAFE_INTEGER },
        { deep: { list: [{ y: null, x: true }, [], {}], text: 'line\nbreak "quoted" \\ slash' } },
      ];
      for (const payload of payloads) {
        await ledger.appendStandalone(source, { type: 'test.payload', tenant: 'bank-a', actor: 'tester', payload });
      }
      const verification = await verifyLedger(source, { batchSize: 7 });
      assert.equal(verification.ok, true, verification.reason);
      assert.equal(verification.entries, await countEntries(db));
    });

    it('stores the payload text it hashes', async () => {
      const source = db.database.dataSource;
      const payload = { b: 1, a: 'ä', '10': [2, { z: null, y: -0 }] };
      const receipt = await ledger.appendStandalone(source, { type: 'test.payload', tenant: 'bank-a', actor: 'tester', payload });
      const [row] = await source.query('SELECT payload_json FROM audit.ledger_entries WHERE seq = $1', [receipt.seq]);
      const fields = { seq: receipt.seq, type: 'test.payload', tenant: 'bank-a', actor: 'tester', payload, createdAt: receipt.createdAt };

      assert.equal(row.payload_json, canonicalJson(payload));
      assert.equal(sha256Hex(receipt.prevHash + entryHashText(fields, row.payload_json)), receipt.hash);
    });

    it('commits and rolls back with the caller', async () => {
      const source = db.database.dataSource;
      const headBefore = await ledger.head(source);
      await assert.rejects(
        source.transaction(async (manager) => {
          await ledger.append(manager, entry(4));
          throw new Error('abort on purpose');
        }),
        /abort on purpose/,
      );
      assert.deepEqual(await ledger.head(source), headBefore);

      const receipt = await source.transaction((manager) => ledger.append(manager, entry(5)));
      assert.equal(receipt.seq, headBefore.seq + 1);
      assert.equal(receipt.prevHash, headBefore.hash);
    });

    it('rejects append outside a transaction', async () => {
      await assert.rejects(ledger.append(db.database.dataSource.manager, entry(6)), FailedPreconditionError);
    });

    it('rejects invalid entries by field', async () => {
      const source = db.database.dataSource;
      const invalid = { type: 'NoDots', tenant: ' ', actor: '', payload: { score: Number.NaN } };
      await assert.rejects(ledger.appendStandalone(source, invalid), (error: unknown) => {
        assert.ok(error instanceof BadUserInputError);
        assert.deepEqual(
          error.fieldErrors.map((fieldError) => fieldError.field),
          ['/type', '/tenant', '/actor', '/payload'],
        );
        return true;
      });
      const nul = { type: 'test.event', tenant: 'bank-a', actor: 'tester', payload: { text: 'a\u0000b' } };
      await assert.rejects(ledger.appendStandalone(source, nul), BadUserInputError);
    });

    it('rejects UPDATE, DELETE and TRUNCATE', async () => {
      const source = db.database.dataSource;
      const count = await countEntries(db);
      await assert.rejects(
        source.query(`UPDATE audit.ledger_entries SET actor = 'intruder' WHERE seq = 1`),
        /the audit ledger is append-only: UPDATE on audit\.ledger_entries is not allowed/,
      );
      await assert.rejects(
        source.query('DELETE FROM audit.ledger_entries WHERE seq = 2'),
        /the audit ledger is append-only: DELETE on audit\.ledger_entries is not allowed/,
      );
      await assert.rejects(
        source.query('TRUNCATE audit.ledger_entries'),
        /the audit ledger is append-only: TRUNCATE on audit\.ledger_entries is not allowed/,
      );
      assert.equal(await countEntries(db), count);
    });

    it('rejects a bad batch size or thread choice', async () => {
      await assert.rejects(verifyLedger(db.database.dataSource, { batchSize: 0 }), BadUserInputError);
      await assert.rejects(verifyLedger(db.database.dataSource, { parallel: 'twice' as 'never' }), (error: BadUserInputError) => {
        assert.deepEqual(error.fieldErrors, [{ field: '/parallel', message: 'must be auto, always, never or background, got twice' }]);
        return true;
      });
    });

    it('reports edited links and reordered rows', async () => {
      const source = db.database.dataSource;
      const cases: { name: string; tamper: string; restore: string; firstBadSeq: number; problem: string }[] = [
        {
          name: 'edited hash',
          tamper: `UPDATE audit.ledger_entries SET hash = repeat('a', 64) WHERE seq = 40`,
          restore: `UPDATE audit.ledger_entries SET hash = $1 WHERE seq = 40 AND $2::text IS NOT NULL`,
          firstBadSeq: 40,
          problem: 'hash-mismatch',
        },
        {
          name: 'edited prev hash',
          tamper: `UPDATE audit.ledger_entries SET prev_hash = repeat('b', 64) WHERE seq = 50`,
          restore: `UPDATE audit.ledger_entries SET prev_hash = $2 WHERE seq = 50 AND $1::text IS NOT NULL`,
          firstBadSeq: 50,
          problem: 'broken-link',
        },
        {
          // Three steps, because the seq primary key is checked row by row.
          name: 'swapped rows',
          tamper: `UPDATE audit.ledger_entries SET seq = 1000000 WHERE seq = 60;
                   UPDATE audit.ledger_entries SET seq = 60 WHERE seq = 61;
                   UPDATE audit.ledger_entries SET seq = 61 WHERE seq = 1000000`,
          restore: '',
          firstBadSeq: 60,
          problem: 'broken-link',
        },
      ];

      for (const tamperCase of cases) {
        const saved: { seq: string; hash: string; prev_hash: string }[] = await source.query(
          'SELECT seq::text AS seq, hash, prev_hash FROM audit.ledger_entries WHERE seq IN (40, 50) ORDER BY seq',
        );
        await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
        for (const statement of tamperCase.tamper.split(';')) await source.query(statement);
        await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');

        const verification = await verifyLedger(source, { batchSize: 16 });
        assert.equal(verification.ok, false, tamperCase.name);
        assert.equal(verification.firstBadSeq, tamperCase.firstBadSeq, tamperCase.name);
        assert.equal(verification.problem, tamperCase.problem, tamperCase.name);
        assert.equal(verification.headSeq, tamperCase.firstBadSeq - 1, tamperCase.name);

        // Undo the tampering so the next case starts from an intact chain.
        await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
        // Swapping the two rows again restores their order.
        if (tamperCase.restore === '') for (const statement of tamperCase.tamper.split(';')) await source.query(statement);
        else await source.query(tamperCase.restore, [saved.find((row) => row.seq === '40')?.hash, saved.find((row) => row.seq === '50')?.prev_hash]);
        await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
        assert.equal((await verifyLedger(source, { batchSize: 16 })).ok, true, `${tamperCase.name} restored`);
      }
    });

    it('verifies in two threads with the same result as in one', async () => {
      const source = db.database.dataSource;
      const count = await countEntries(db);
      const split = Math.floor(count / 2);
      const oneThread = () => verifyLedger(source, { batchSize: 16, parallel: 'never' });
      const twoThreads = () => verifyLedger(source, { batchSize: 16, parallel: 'always' });
      const inBackground = () => verifyLedger(source, { batchSize: 16, parallel: 'background' });
      assert.deepEqual(await twoThreads(), await oneThread());
      assert.deepEqual(await inBackground(), await oneThread());
      assert.equal((await twoThreads()).entries, count);

      const touched = [split, split + 1, split + 7];
      const cases: { name: string; tamper: string }[] = [
        { name: 'hash of the first entry of the second half', tamper: `UPDATE audit.ledger_entries SET hash = repeat('c', 64) WHERE seq = ${split + 1}` },
        { name: 'link into the second half', tamper: `UPDATE audit.ledger_entries SET prev_hash = repeat('d', 64) WHERE seq = ${split + 1}` },
        { name: 'hash of the last entry of the first half', tamper: `UPDATE audit.ledger_entries SET hash = repeat('e', 64) WHERE seq = ${split}` },
        { name: 'payload inside the second half', tamper: `UPDATE audit.ledger_entries SET payload = payload || '{"n": -2}', payload_json = (payload || '{"n": -2}')::text WHERE seq = ${split + 7}` },
        { name: 'deleted first entry of the second half', tamper: `DELETE FROM audit.ledger_entries WHERE seq = ${split + 1}` },
        { name: 'deleted last entry of the first half', tamper: `DELETE FROM audit.ledger_entries WHERE seq = ${split}` },
      ];
      await source.query('CREATE TABLE public.saved_ledger_rows AS SELECT * FROM audit.ledger_entries WHERE seq = ANY($1::bigint[])', [touched]);
      try {
        for (const tamperCase of cases) {
          await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
          await source.query(tamperCase.tamper);
          await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');

          const expected = await oneThread();
          assert.equal(expected.ok, false, tamperCase.name);
          assert.deepEqual(await twoThreads(), expected, tamperCase.name);
          assert.deepEqual(await inBackground(), expected, `${tamperCase.name}, in the background`);

          await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
          await source.query('DELETE FROM audit.ledger_entries WHERE seq = ANY($1::bigint[])', [touched]);
          await source.query('INSERT INTO audit.ledger_entries SELECT * FROM public.saved_ledger_rows');
          await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
          assert.equal((await twoThreads()).ok, true, `${tamperCase.name} restored`);
        }
      } finally {
        await source.query('DROP TABLE public.saved_ledger_rows');
      }
    });

    it('verifies a range in a worker thread over its own connection', { skip: target.name === 'server' ? false : 'embedded PGlite takes one connection' }, async () => {
      const source = db.database.dataSource;
      const url = (source.options as { url?: string }).url as string;
      const count = await countEntries(db);
      const [before] = await source.query('SELECT seq::int AS seq, hash FROM audit.ledger_entries WHERE seq = 100');
      const range = await verifyChainRangeInWorker(url, { afterSeq: 100, prevHash: undefined, batchSize: 32, payloadTextsChecked: true });
      assert.equal(range.ok, true);
      assert.equal(range.entries, count - 100);
      assert.equal(range.firstSeq, 101);
      assert.equal(range.firstPrevHash, before.hash);
      const [last] = await source.query('SELECT seq::int AS seq, hash FROM audit.ledger_entries ORDER BY seq DESC LIMIT 1');
      assert.deepEqual({ headSeq: range.headSeq, headHash: range.headHash }, { headSeq: last.seq, headHash: last.hash });

      await assert.rejects(verifyChainRangeInWorker('postgres://nobody@127.0.0.1:1/none', { afterSeq: 0, prevHash: undefined, batchSize: 8, payloadTextsChecked: true }));
    });

    it('reports a row altered behind the triggers', async () => {
      const source = db.database.dataSource;
      const count = await countEntries(db);
      const tamperedSeq = 137;
      await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
      // Both payload columns change alike, as the payload text constraint requires of an edit behind the triggers.
      await source.query(`UPDATE audit.ledger_entries SET payload = payload || '{"n": -1}', payload_json = (payload || '{"n": -1}')::text WHERE seq = $1`, [tamperedSeq]);
      await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');

      const verification = await verifyLedger(source, { batchSize: 50 });
      assert.equal(verification.ok, false);
      assert.equal(verification.firstBadSeq, tamperedSeq);
      assert.equal(verification.problem, 'hash-mismatch');
      assert.equal(verification.entries, tamperedSeq - 1);
      assert.equal(verification.headSeq, tamperedSeq - 1);
      assert.match(verification.reason ?? '', /^hash mismatch at seq 137: /);
      assert.ok(count > tamperedSeq);
    });

    it('reports a deleted row as a gap', async () => {
      const source = db.database.dataSource;
      await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
      await source.query('DELETE FROM audit.ledger_entries WHERE seq = 20');
      await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');

      const verification = await verifyLedger(source, { batchSize: 20 });
      assert.equal(verification.ok, false);
      assert.equal(verification.firstBadSeq, 21);
      assert.equal(verification.problem, 'seq-gap');
      assert.equal(verification.reason, 'seq gap: expected seq 20 but found seq 21');
    });

    it('migrates down and up again', async () => {
      const migration = new Ledger1796342400100();
      // Later migrations add tables to the audit schema, so they are undone first and redone after.
      const later = ALL_MIGRATIONS.slice(ALL_MIGRATIONS.indexOf(Ledger1796342400100) + 1).map((Migration) => new Migration());
      // The embedded database has one connection, so the runner is released before the append.
      const runner: QueryRunner = db.database.dataSource.createQueryRunner();
      let schemasAfterDown: { n: number }[];
      try {
        for (const laterMigration of [...later].reverse()) await laterMigration.down(runner);
        await migration.down(runner);
        schemasAfterDown = await runner.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'audit'");
        await migration.up(runner);
        for (const laterMigration of later) await laterMigration.up(runner);
      } finally {
        await runner.release();
      }

      assert.equal(schemasAfterDown[0].n, 0);
      const receipt: LedgerReceipt = await ledger.appendStandalone(db.database.dataSource, entry(7));
      assert.equal(receipt.seq, 1);
      assert.equal(receipt.prevHash, GENESIS_PREV_HASH);
    });
  });
}
