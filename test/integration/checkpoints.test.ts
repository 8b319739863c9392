import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BadUserInputError, FailedPreconditionError } from '../../libs/common/src/index.js';
import {
  CheckpointKeyStore,
  CheckpointScheduler,
  CheckpointService,
  computeEntryHash,
  keyIdOf,
  parseCheckpoint,
  PostgresLedger,
  PostgresMerkleLog,
  verifyCheckpoint,
  verifyConsistencyProof,
  verifyInclusionProof,
  WitnessPublisher,
  type CheckpointVerifierKey,
  type CreatedCheckpoint,
} from '../../libs/audit/src/index.js';
import { generateCheckpointKey } from '../../libs/audit/src/checkpoints/checkpoint-key-file.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { startWitnessServer, type WitnessServer } from './checkpoint-witness-server.js';

const ORIGIN = 'warden.example-bank.test/ledger';

/** Witness retries kept short so a failing witness costs milliseconds, not seconds. */
const FAST_RETRIES = { maxAttempts: 3, initialBackoffMs: 10, attemptTimeoutMs: 2000 };

interface Services {
  ledger: PostgresLedger;
  keys: CheckpointKeyStore;
  checkpoints: CheckpointService;
}

for (const target of await databaseTargets()) {
  describe(`checkpoints on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let witnessServer: WitnessServer;
    let failingServer: WitnessServer;
    let keyFile: string;
    let witnessFile: string;
    let services: Services;
    const created: CreatedCheckpoint[] = [];
    let retiredPem = '';

    function buildServices(witnesses: WitnessPublisher): Services {
      const dataSource = db.database.dataSource;
      const ledger = new PostgresLedger();
      const keys = new CheckpointKeyStore(dataSource, keyFile, ledger);
      const checkpoints = new CheckpointService(dataSource, new PostgresMerkleLog(dataSource), keys, ledger, witnesses, { origin: ORIGIN });
      return { ledger, keys, checkpoints };
    }

    async function appendEntries(count: number): Promise<void> {
      for (let index = 0; index < count; index++) {
        await services.ledger.appendStandalone(db.database.dataSource, {
          type: 'test.event',
          tenant: 'bank-a',
          actor: 'tester',
          payload: { index },
        });
      }
    }

    async function ledgerCount(): Promise<number> {
      const rows: { n: number }[] = await db.database.dataSource.query('SELECT count(*)::int AS n FROM audit.ledger_entries');
      return rows[0].n;
    }

    async function publishedKeys(): Promise<CheckpointVerifierKey[]> {
      return services.keys.verifierKeys();
    }

    before(async () => {
      db = await target.open();
      witnessServer = await startWitnessServer(204);
      failingServer = await startWitnessServer(503);
      keyFile = join(db.config.dataDir, 'keys', 'checkpoint-ed25519.pem');
      witnessFile = join(db.config.dataDir, 'witness', 'checkpoints.txt');
      const witnesses = new WitnessPublisher(db.database.dataSource, { file: witnessFile, url: witnessServer.url, ...FAST_RETRIES });
      services = buildServices(witnesses);
    });
    after(async () => {
      await witnessServer?.close();
      await failingServer?.close();
      await db?.cleanup();
    });

    it('has no checkpoint at first', async () => {
      assert.equal(await services.checkpoints.latest(), undefined);
      assert.deepEqual(await services.checkpoints.list(), []);
      await assert.rejects(services.checkpoints.inclusionProof(1), FailedPreconditionError);
      await assert.rejects(services.checkpoints.consistencyProof(1, 1), FailedPreconditionError);
    });

    it('creates checkpoints as the ledger grows', async () => {
      await appendEntries(5);
      created.push(await services.checkpoints.create('auditor-1'));
      await appendEntries(3);
      created.push(await services.checkpoints.create('auditor-1'));

      // The second tree contains the 5 entries, the first checkpoint's own entry and 3 more.
      assert.deepEqual(
        created.map((checkpoint) => checkpoint.treeSize),
        [5, 9],
      );
      assert.deepEqual(
        created.map((checkpoint) => checkpoint.ledgerSeq),
        [6, 10],
      );
      const rows: { type: string; tenant: string; actor: string; payload: Record<string, unknown> }[] = await db.database.dataSource.query(
        'SELECT type, tenant, actor, payload FROM audit.ledger_entries WHERE seq = $1',
        [created[0].ledgerSeq],
      );
      assert.equal(rows[0].type, 'checkpoint.created');
      assert.equal(rows[0].tenant, '*');
      assert.equal(rows[0].actor, 'auditor-1');
      assert.deepEqual(rows[0].payload, { treeSize: 5, rootHash: created[0].rootHash, keyId: created[0].keyId, origin: ORIGIN });

      const listed = await services.checkpoints.list(10);
      assert.deepEqual(
        listed.map((checkpoint) => checkpoint.id),
        [created[1].id, created[0].id],
      );
      assert.equal((await services.checkpoints.latest())?.id, created[1].id);
    });

    it('each checkpoint verifies with the published keys', async () => {
      const keys = await publishedKeys();
      assert.equal(keys.length, 1);
      for (const checkpoint of created) {
        const result = verifyCheckpoint(checkpoint.note, keys);
        assert.equal(result.ok, true, JSON.stringify(result));
        if (!result.ok) continue;
        assert.equal(result.checkpoint.origin, ORIGIN);
        assert.equal(result.checkpoint.treeSize, checkpoint.treeSize);
        assert.equal(result.checkpoint.rootHash, checkpoint.rootHash);
        assert.equal(result.checkpoint.time, checkpoint.createdAt);
        assert.deepEqual(result.keyIds, [checkpoint.keyId]);
      }
    });

    it('stores the signing key with mode 0600', () => {
      assert.equal(statSync(keyFile).mode & 0o777, 0o600);
      assert.match(readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    });

    it('inclusion proofs verify for every entry', async () => {
      const latest = created[1];
      for (let seq = 1; seq <= latest.treeSize; seq++) {
        const proof = await services.checkpoints.inclusionProof(seq);
        assert.equal(proof.seq, seq);
        assert.equal(proof.leafIndex, seq - 1);
        assert.equal(proof.treeSize, latest.treeSize);
        assert.equal(proof.rootHash, latest.rootHash);
        assert.equal(proof.checkpoint.note, latest.note);
        assert.deepEqual(verifyInclusionProof(proof), { ok: true }, `seq ${seq}`);

        // A verifier recomputes the leaf from the entry itself.
        assert.equal(computeEntryHash(proof.entry.prevHash, proof.entry), proof.entry.hash);
        const leaf = createHash('sha256').update(Buffer.from([0x00])).update(Buffer.from(proof.entry.hash, 'hex')).digest('hex');
        assert.equal(proof.leafHash, leaf);
      }
    });

    it('rejects seq outside the latest checkpoint', async () => {
      for (const seq of [0, -1, 1.5, created[1].treeSize + 1]) {
        await assert.rejects(services.checkpoints.inclusionProof(seq), (error: unknown) => {
          assert.ok(error instanceof BadUserInputError, String(error));
          assert.equal(error.fieldErrors[0].field, 'seq');
          return true;
        });
      }
    });

    it('consistency between checkpoints verifies', async () => {
      const [older, newer] = created;
      const proof = await services.checkpoints.consistencyProof(older.treeSize, newer.treeSize);
      assert.equal(proof.fromRoot, older.rootHash);
      assert.equal(proof.toRoot, newer.rootHash);
      assert.equal(proof.fromCheckpoint?.id, older.id);
      assert.equal(proof.toCheckpoint?.id, newer.id);
      assert.deepEqual(verifyConsistencyProof(proof), { ok: true });

      const middle = await services.checkpoints.consistencyProof(3, 7);
      assert.equal(middle.fromCheckpoint, null);
      assert.deepEqual(verifyConsistencyProof(middle), { ok: true });
    });

    it('rejects sizes out of range', async () => {
      const cases: [number, number, string][] = [
        [0, 5, 'fromSize'],
        [5, 0, 'toSize'],
        [6, 5, 'fromSize'],
        [1, created[1].treeSize + 1, 'toSize'],
      ];
      for (const [fromSize, toSize, field] of cases) {
        await assert.rejects(services.checkpoints.consistencyProof(fromSize, toSize), (error: unknown) => {
          assert.ok(error instanceof BadUserInputError, String(error));
          assert.equal(error.fieldErrors[0].field, field, `${fromSize}..${toSize}`);
          return true;
        });
      }
    });

    it('witness file and HTTP receive the notes', async () => {
      for (const checkpoint of created) {
        assert.deepEqual(
          checkpoint.witnesses.map((delivery) => [delivery.witness, delivery.status, delivery.attempts, delivery.error]),
          [
            ['file', 'delivered', 1, null],
            ['http', 'delivered', 1, null],
          ],
        );
      }
      assert.equal(readFileSync(witnessFile, 'utf8'), created.map((checkpoint) => `${checkpoint.note}\n`).join(''));
      assert.deepEqual(
        witnessServer.requests.map((request) => request.body),
        created.map((checkpoint) => checkpoint.note),
      );
      for (const request of witnessServer.requests) {
        assert.equal(request.method, 'POST');
        assert.equal(request.contentType, 'text/plain; charset=utf-8');
      }

      const rows: { witness: string; status: string }[] = await db.database.dataSource.query(
        'SELECT witness, status FROM audit.checkpoint_witness_deliveries ORDER BY id',
      );
      assert.deepEqual(
        rows.map((row) => `${row.witness}:${row.status}`),
        ['file:delivered', 'http:delivered', 'file:delivered', 'http:delivered'],
      );
    });

    it('failing witness is recorded and does not block', async () => {
      // A folder where the witness file should be makes the append fail.
      const blockedFile = join(db.config.dataDir, 'blocked');
      mkdirSync(blockedFile);
      const failing = new WitnessPublisher(db.database.dataSource, { file: blockedFile, url: failingServer.url, ...FAST_RETRIES });
      const { checkpoints } = buildServices(failing);
      await appendEntries(1);

      const checkpoint = await checkpoints.create('auditor-1');
      created.push(checkpoint);
      assert.equal(checkpoint.treeSize, 11);
      assert.equal((await services.checkpoints.latest())?.id, checkpoint.id);
      assert.deepEqual(
        checkpoint.witnesses.map((delivery) => [delivery.witness, delivery.status, delivery.attempts]),
        [
          ['file', 'failed', 1],
          ['http', 'failed', FAST_RETRIES.maxAttempts],
        ],
      );
      assert.match(checkpoint.witnesses[0].error ?? '', /EISDIR/);
      assert.equal(checkpoint.witnesses[1].error, 'HTTP 503 Service Unavailable');
      assert.equal(failingServer.requests.length, FAST_RETRIES.maxAttempts);
      assert.ok(failingServer.requests.every((request) => request.body === checkpoint.note));

      const recorded = await failing.deliveries(checkpoint.id);
      assert.deepEqual(recorded, checkpoint.witnesses);
    });

    it('old and new checkpoints verify after rotation', async () => {
      const before = created.at(-1)!;
      retiredPem = readFileSync(keyFile, 'utf8');
      const rotation = await services.keys.rotate(ORIGIN, 'admin-1');
      assert.deepEqual(rotation.retiredKeyIds, [before.keyId]);
      assert.notEqual(rotation.keyId, before.keyId);

      await appendEntries(2);
      const after = await services.checkpoints.create('auditor-1');
      created.push(after);
      assert.equal(after.keyId, rotation.keyId);

      const keys = await publishedKeys();
      assert.equal(keys.length, 2);
      for (const checkpoint of created) {
        const result = verifyCheckpoint(checkpoint.note, keys);
        assert.equal(result.ok, true, `checkpoint ${checkpoint.id}: ${JSON.stringify(result)}`);
      }
      // Each key verifies only its own checkpoints.
      const oldKeyOnly = keys.filter((key) => keyIdOf(key.keyName, key.publicKey) !== rotation.keyId);
      assert.equal(verifyCheckpoint(after.note, oldKeyOnly).ok, false);

      const listed = await services.keys.list();
      assert.deepEqual(
        listed.map((key) => [key.keyId, key.retiredAt === null]),
        [
          [before.keyId, false],
          [rotation.keyId, true],
        ],
      );
      const rotated: { n: number }[] = await db.database.dataSource.query(
        "SELECT count(*)::int AS n FROM audit.ledger_entries WHERE type = 'checkpoint.key-rotated' AND actor = 'admin-1'",
      );
      assert.equal(rotated[0].n, 1);

      const consistency = await services.checkpoints.consistencyProof(created[0].treeSize, after.treeSize);
      assert.deepEqual(verifyConsistencyProof(consistency), { ok: true });
    });

    it('refuses to sign with a retired key', async () => {
      // A stale copy of the key file from before the rotation.
      const staleKeyFile = join(db.config.dataDir, 'keys', 'stale.pem');
      writeFileSync(staleKeyFile, retiredPem, { mode: 0o600 });
      const { checkpoints } = buildServicesWithKeyFile(staleKeyFile);
      await assert.rejects(checkpoints.create('auditor-1'), /was retired/);
    });

    it('refuses a key file replaced outside rotation', async () => {
      // A key file swapped by hand, or copied from another database's data folder.
      const foreignKeyFile = join(db.config.dataDir, 'keys', 'foreign.pem');
      writeFileSync(foreignKeyFile, generateCheckpointKey().pem, { mode: 0o600 });
      const { checkpoints } = buildServicesWithKeyFile(foreignKeyFile);
      await assert.rejects(checkpoints.create('auditor-1'), /was never published by this database, whose current key is .+ Restore the key file/);
      const keys: { n: number }[] = await db.database.dataSource.query('SELECT count(*)::int AS n FROM audit.checkpoint_keys WHERE retired_at IS NULL');
      assert.equal(keys[0].n, 1);
    });

    it('keys and checkpoints cannot be changed', async () => {
      const source = db.database.dataSource;
      const statements = [
        'DELETE FROM audit.checkpoint_keys',
        'TRUNCATE audit.checkpoint_keys CASCADE',
        "UPDATE audit.checkpoint_keys SET retired_at = now() WHERE retired_at IS NOT NULL",
        "UPDATE audit.checkpoint_keys SET key_name = 'other' WHERE retired_at IS NULL",
        "UPDATE audit.checkpoint_keys SET retired_at = now(), vkey = 'x' WHERE retired_at IS NULL",
        "UPDATE audit.checkpoints SET note = 'forged'",
        'DELETE FROM audit.checkpoints',
        'TRUNCATE audit.checkpoints CASCADE',
        'DELETE FROM audit.checkpoint_witness_deliveries',
        'DELETE FROM audit.checkpoint_log',
      ];
      for (const statement of statements) {
        await assert.rejects(source.query(statement), /append-only|kept forever/, statement);
      }
      const keys: { n: number }[] = await source.query('SELECT count(*)::int AS n FROM audit.checkpoint_keys');
      assert.equal(keys[0].n, 2);
    });

    it('scheduler checkpoints only when the ledger grew', async () => {
      const scheduler = new CheckpointScheduler(services.checkpoints, 1);
      const countBefore = (await services.checkpoints.list(1000)).length;

      // The last create() added only its own checkpoint.created entry, which is no growth.
      assert.equal(await scheduler.runOnce(), undefined);
      await appendEntries(1);
      const size = await ledgerCount();
      assert.equal(scheduler.start(), true);
      const deadline = Date.now() + 10_000;
      while ((await services.checkpoints.list(1000)).length === countBefore && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      await scheduler.stop();

      const latest = await services.checkpoints.latest();
      assert.equal(latest?.treeSize, size);
      assert.equal((await services.checkpoints.list(1000)).length, countBefore + 1);
      assert.equal(parseCheckpoint(latest!.note).treeSize, size);
      const actor: { actor: string }[] = await db.database.dataSource.query('SELECT actor FROM audit.ledger_entries WHERE seq = $1', [
        latest!.ledgerSeq,
      ]);
      assert.equal(actor[0].actor, 'system');
    });

    it('scheduler with interval 0 is disabled', () => {
      assert.equal(new CheckpointScheduler(services.checkpoints, 0).start(), false);
    });

    function buildServicesWithKeyFile(path: string): Services {
      const dataSource = db.database.dataSource;
      const ledger = new PostgresLedger();
      const keys = new CheckpointKeyStore(dataSource, path, ledger);
      const witnesses = new WitnessPublisher(dataSource);
      const checkpoints = new CheckpointService(dataSource, new PostgresMerkleLog(dataSource), keys, ledger, witnesses, { origin: ORIGIN });
      return { ledger, keys, checkpoints };
    }
  });
}
