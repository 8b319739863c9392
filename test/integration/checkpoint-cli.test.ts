import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../libs/common/src/index.js';
import { openDatabase } from '../../libs/database/src/index.js';
import {
  computeEntryHash,
  parseVerifierKey,
  PostgresLedger,
  verifyCheckpoint,
  verifyConsistencyProof,
  verifyInclusionProof,
  type CheckpointKeyRecord,
  type CreatedCheckpoint,
  type KeyRotation,
  type LedgerConsistencyProof,
  type LedgerInclusionProof,
} from '../../libs/audit/src/index.js';
import { cliEnvironment, runCli, runCliJson, startCli } from '../support/cli.js';
import { createServerDatabase, databaseTargets, REPO_ROOT, type ServerDatabase } from '../support/databases.js';
import { startWitnessServer, type WitnessServer } from './checkpoint-witness-server.js';

const STACK_FRAME = /^\s+at /m;

for (const target of await databaseTargets()) {
  describe(`warden audit checkpoint commands on ${target.name}`, { skip: target.skipReason }, () => {
    let workDir: string;
    let dataDir: string;
    let witnessFile: string;
    let server: ServerDatabase | undefined;
    let witnessServer: WitnessServer;
    let env: NodeJS.ProcessEnv;
    const checkpoints: CreatedCheckpoint[] = [];

    /** Appends test entries in this process, while no CLI child has the embedded database open. */
    async function appendEntries(count: number): Promise<void> {
      const config = {
        ...loadConfig({ LOG_LEVEL: 'silent', WARDEN_DATA_DIR: dataDir, DATABASE_URL: server?.url }),
        policyDir: join(REPO_ROOT, 'policies'),
      };
      const database = await openDatabase(config);
      try {
        const ledger = new PostgresLedger();
        for (let index = 0; index < count; index++) {
          await ledger.appendStandalone(database.dataSource, { type: 'test.event', tenant: 'bank-a', actor: 'tester', payload: { index } });
        }
      } finally {
        await database.close();
      }
    }

    async function publishedKeys() {
      const keys = await runCliJson<CheckpointKeyRecord[]>(['audit', 'keys'], env);
      return { records: keys, verifierKeys: keys.map((key) => parseVerifierKey(key.vkey)) };
    }

    before(async () => {
      workDir = mkdtempSync(join(tmpdir(), 'warden-checkpoint-cli-'));
      dataDir = join(workDir, 'data');
      witnessFile = join(workDir, 'witness.txt');
      if (target.name === 'server') server = await createServerDatabase();
      witnessServer = await startWitnessServer(200);
      env = cliEnvironment({
        WARDEN_DATA_DIR: dataDir,
        DATABASE_URL: server?.url,
        WARDEN_CHECKPOINT_WITNESS_FILE: witnessFile,
        WARDEN_CHECKPOINT_WITNESS_URL: witnessServer.url,
      });
    });
    after(async () => {
      await witnessServer?.close();
      await server?.drop();
      rmSync(workDir, { recursive: true, force: true });
    });

    it('proof before any checkpoint fails', async () => {
      const result = await runCli(['audit', 'proof', '--seq', '1'], env);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /^FAILED_PRECONDITION: No checkpoint exists yet\./);
      assert.doesNotMatch(result.stderr, STACK_FRAME);
    });

    it('checkpoint prints the signed note', async () => {
      await appendEntries(4);
      const checkpoint = await runCliJson<CreatedCheckpoint>(['audit', 'checkpoint'], env);
      checkpoints.push(checkpoint);

      assert.equal(checkpoint.treeSize, 4);
      assert.equal(checkpoint.ledgerSeq, 5);
      assert.match(checkpoint.origin, /^warden\.local\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.ok(checkpoint.note.startsWith(`${checkpoint.origin}\n4\n`));
      assert.deepEqual(
        checkpoint.witnesses.map((delivery) => `${delivery.witness}:${delivery.status}`),
        ['file:delivered', 'http:delivered'],
      );
      assert.equal(statSync(join(dataDir, 'keys', 'checkpoint-ed25519.pem')).mode & 0o777, 0o600);
    });

    it('keys lists the public key', async () => {
      const { records, verifierKeys } = await publishedKeys();
      assert.equal(records.length, 1);
      assert.equal(records[0].keyId, checkpoints[0].keyId);
      assert.equal(records[0].keyName, checkpoints[0].origin);
      assert.equal(records[0].retiredAt, null);
      assert.equal(verifyCheckpoint(checkpoints[0].note, verifierKeys).ok, true);
    });

    it('proof verifies against the note', async () => {
      const proof = await runCliJson<LedgerInclusionProof>(['audit', 'proof', '--seq', '3'], env);
      assert.equal(proof.seq, 3);
      assert.equal(proof.leafIndex, 2);
      assert.equal(proof.treeSize, 4);
      assert.deepEqual(verifyInclusionProof(proof), { ok: true });

      const { verifierKeys } = await publishedKeys();
      const note = verifyCheckpoint(proof.checkpoint.note, verifierKeys);
      assert.equal(note.ok, true);
      assert.equal(note.ok && note.checkpoint.rootHash, proof.rootHash);
      assert.equal(note.ok && note.checkpoint.treeSize, proof.treeSize);
      assert.equal(proof.entry.seq, 3);
      assert.equal(computeEntryHash(proof.entry.prevHash, proof.entry), proof.entry.hash);
    });

    const badProofs: { args: string[]; message: RegExp }[] = [
      { args: ['--seq', '99'], message: /Ledger entry 99 is beyond the latest checkpoint, which covers 4 entries\.\n {2}--seq: must be from 1 to 4/ },
      { args: ['--seq', '0'], message: /--seq: must be a whole number from 1/ },
      { args: ['--seq', 'abc'], message: /Invalid --seq "abc"\./ },
    ];
    for (const { args, message } of badProofs) {
      it(`proof rejects ${args.join(' ')}`, async () => {
        const result = await runCli(['audit', 'proof', ...args], env);
        assert.equal(result.code, 1);
        assert.match(result.stderr, /^BAD_USER_INPUT: /);
        assert.match(result.stderr, message);
        assert.equal(result.stdout, '');
      });
    }

    it('rotate-key keeps old checkpoints verifiable', async () => {
      await appendEntries(2);
      const rotation = await runCliJson<KeyRotation>(['audit', 'rotate-key'], env);
      assert.deepEqual(rotation.retiredKeyIds, [checkpoints[0].keyId]);

      const checkpoint = await runCliJson<CreatedCheckpoint>(['audit', 'checkpoint'], env);
      checkpoints.push(checkpoint);
      // 4 entries, the first checkpoint's entry, 2 more and the rotation's entry.
      assert.equal(checkpoint.treeSize, 8);
      assert.equal(checkpoint.keyId, rotation.keyId);

      const { records, verifierKeys } = await publishedKeys();
      assert.deepEqual(
        records.map((key) => [key.keyId, key.retiredAt === null]),
        [
          [checkpoints[0].keyId, false],
          [rotation.keyId, true],
        ],
      );
      for (const stored of checkpoints) {
        assert.equal(verifyCheckpoint(stored.note, verifierKeys).ok, true, stored.note);
      }
    });

    it('consistency proof verifies', async () => {
      const proof = await runCliJson<LedgerConsistencyProof>(['audit', 'consistency', '--from', '4', '--to', '8'], env);
      assert.equal(proof.fromRoot, checkpoints[0].rootHash);
      assert.equal(proof.toRoot, checkpoints[1].rootHash);
      assert.equal(proof.fromCheckpoint?.note, checkpoints[0].note);
      assert.equal(proof.toCheckpoint?.note, checkpoints[1].note);
      assert.deepEqual(verifyConsistencyProof(proof), { ok: true });
    });

    it('consistency rejects sizes out of range', async () => {
      const result = await runCli(['audit', 'consistency', '--from', '5', '--to', '99'], env);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /Tree sizes 5 and 99 are out of range\.\n {2}--to: must satisfy 1 <= fromSize <= toSize <= 8/);
    });

    it('witnesses received every note', () => {
      const notes = checkpoints.map((checkpoint) => checkpoint.note);
      assert.equal(readFileSync(witnessFile, 'utf8'), notes.map((note) => `${note}\n`).join(''));
      assert.deepEqual(
        witnessServer.requests.map((request) => request.body),
        notes,
      );
    });

    it('start runs the checkpoint schedule', async () => {
      await appendEntries(1);
      const started = await startCli(['--port', '0'], { ...env, WARDEN_CHECKPOINT_INTERVAL_SECONDS: '1', LOG_LEVEL: 'info' });
      const deadline = Date.now() + 15_000;
      while (witnessServer.requests.length < checkpoints.length + 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const result = await started.stop('SIGTERM');
      assert.equal(result.code, 0, result.stderr);

      assert.equal(witnessServer.requests.length, checkpoints.length + 1);
      const note = witnessServer.requests.at(-1)!.body;
      // Entries 1-8, the second checkpoint's entry and the one appended above.
      assert.match(note, /^warden\.local\/\S+\n10\n/);
      const { verifierKeys } = await publishedKeys();
      assert.equal(verifyCheckpoint(note, verifierKeys).ok, true);

      const messages = result.stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { msg: string }).msg);
      assert.ok(messages.includes('checkpoint schedule started'), result.stderr);
      assert.ok(messages.includes('checkpoint created'), result.stderr);
      assert.ok(messages.includes('checkpoint schedule stopped'), result.stderr);
    });
  });
}
