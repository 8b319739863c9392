import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DataSource, QueryRunner } from 'typeorm';
import { BadUserInputError, canonicalJson, createSeededRandom, FailedPreconditionError } from '../../libs/common/src/index.js';
import { openDatabase, type WardenDatabase } from '../../libs/database/src/index.js';
import {
  computeEntryHash,
  generateConsistencyProof,
  generateInclusionProof,
  hashMerkleLeaf,
  hashToHex,
  inMemoryRangeHash,
  merkleTreeHash,
  multiproofRanges,
  PostgresLedger,
  PostgresMerkleLog,
  verifyConsistencyProof,
  verifyInclusionProof,
  verifyLedger,
  verifyTreeAgainstLedger,
} from '../../libs/audit/src/index.js';
import { LEDGER_ENTRY_COLUMNS, toLedgerEntry, type LedgerEntryRow } from '../../libs/audit/src/ledger-rows.js';
import { MerkleTree1796342400600 } from '../../migrations/1796342400600-MerkleTree.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';

const SYNC_BATCH = 300;

/** Perfect nodes in a tree of `size` leaves: floor(size / 2^level) on each level. */
function perfectNodeCount(size: number): number {
  let count = 0;
  for (let width = 1; width <= size; width *= 2) count += Math.floor(size / width);
  return count;
}

function fieldOf(error: unknown): string | undefined {
  return error instanceof BadUserInputError ? error.fieldErrors[0]?.field : undefined;
}

/** Flips one hex digit, keeping the string valid hex. */
function tamper(hex: string, at = 10): string {
  const digit = hex[at] === '0' ? '1' : '0';
  return hex.slice(0, at) + digit + hex.slice(at + 1);
}

for (const target of await databaseTargets()) {
  describe(`Merkle log on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let source: DataSource;
    let log: PostgresMerkleLog;
    const ledger = new PostgresLedger();
    const random = createSeededRandom(6962);
    const pick = (below: number) => Math.floor(random() * below);

    async function append(count: number): Promise<void> {
      for (let done = 0; done < count; done += 500) {
        const entries = Array.from({ length: Math.min(500, count - done) }, (_, i) => ({
          type: 'test.event',
          tenant: i % 3 === 0 ? 'bank-a' : 'bank-b',
          actor: 'tester',
          payload: { n: done + i, note: 'merkle' },
        }));
        await source.transaction((manager) => ledger.appendMany(manager, entries));
      }
    }

    async function ledgerLeaves(): Promise<Uint8Array[]> {
      const rows: { hash: string }[] = await source.query('SELECT hash FROM audit.ledger_entries ORDER BY seq');
      return rows.map((row) => hashMerkleLeaf(Buffer.from(row.hash, 'hex')));
    }

    async function nodeCount(): Promise<number> {
      const rows = await source.query('SELECT count(*)::int AS n FROM audit.merkle_nodes');
      return rows[0].n;
    }

    before(async () => {
      db = await target.open();
      source = db.database.dataSource;
      log = new PostgresMerkleLog(source, { syncBatchSize: SYNC_BATCH });
    });
    after(async () => {
      await db?.cleanup();
    });

    it('starts empty', async () => {
      assert.equal(await log.sync(), 0);
      assert.equal(await log.size(), 0);
      assert.equal(await log.rootHash(0), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      await assert.rejects(log.rootHash(1), FailedPreconditionError);
    });

    it('syncs 1,000 entries to the in-memory roots', async () => {
      await append(1000);
      assert.equal(await log.sync(), 1000);
      assert.equal(await log.size(), 1000);
      assert.equal(await nodeCount(), perfectNodeCount(1000));

      const leaves = await ledgerLeaves();
      const sizes = new Set([1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 511, 512, 513, 999, 1000]);
      while (sizes.size < 80) sizes.add(1 + pick(1000));
      for (const size of sizes) {
        assert.equal(await log.rootHash(size), hashToHex(merkleTreeHash(leaves, 0, size)), `root of size ${size}`);
      }
    });

    it('batches inclusion proofs like single ones', async () => {
      for (const size of [1, 7, 512, 1000]) {
        const indexes = [0, size - 1, Math.floor(size / 2), Math.floor(size / 3), 0].filter((index) => index < size);
        const batch = await log.inclusionProofs(indexes, size);
        assert.equal(batch.length, indexes.length);
        for (const [i, index] of indexes.entries()) {
          assert.deepEqual(batch[i], await log.inclusionProof(index, size), `leaf ${index} of ${size}`);
        }
      }
      assert.deepEqual(await log.inclusionProofs([], 10), []);
    });

    it('batches dense and scattered proofs', async () => {
      // Dense runs are read as index ranges per level, scattered leaves as single nodes; both mixed.
      const dense = Array.from({ length: 300 }, (_, i) => 350 + i);
      const scattered = [3, 97, 211, 700, 703, 998, 999];
      for (const size of [1000, 999, 701]) {
        const indexes = [...dense, ...scattered].filter((index) => index < size);
        const batch = await log.inclusionProofs(indexes, size);
        for (const [i, index] of indexes.entries()) {
          assert.deepEqual(batch[i], await log.inclusionProof(index, size), `leaf ${index} of ${size}`);
        }
      }
    });

    it('returns multiproof ranges with their hashes', async () => {
      const leaves = await ledgerLeaves();
      const dense = Array.from({ length: 300 }, (_, i) => 350 + i);
      const scattered = [3, 97, 211, 700, 703, 998, 999];
      for (const size of [1000, 999, 701, 1]) {
        const indexes = [...scattered.slice(0, 3), ...dense, ...scattered.slice(3)].filter((index) => index < size);
        const nodes = [];
        for await (const batch of log.multiproofNodes(indexes, size)) nodes.push(...batch);
        assert.deepEqual(
          nodes.map(({ start, end }) => ({ start, end })),
          multiproofRanges(indexes, size),
          `ranges of size ${size}`,
        );
        for (const node of nodes) {
          assert.equal(node.hash, hashToHex(merkleTreeHash(leaves, node.start, node.end)), `range [${node.start}, ${node.end}) of size ${size}`);
        }
      }
      for await (const batch of log.multiproofNodes([], 10)) assert.fail(`no leaves yielded ${batch.length} ranges`);
    });

    it('rejects multiproofs past synced leaves', async () => {
      const read = async (): Promise<void> => {
        for await (const _batch of log.multiproofNodes([5, 1200], 1300));
      };
      await assert.rejects(read, /fewer than the requested tree size 1300/);
    });

    it('rejects batch proofs past synced leaves', async () => {
      await assert.rejects(log.inclusionProofs([5, 1200], 1300), /fewer than the requested tree size 1300/);
    });

    it('returns inclusion proofs that verify', async () => {
      const leaves = await ledgerLeaves();
      const rangeHash = inMemoryRangeHash(leaves);
      const pairs: [number, number][] = [
        [0, 1],
        [0, 1000],
        [999, 1000],
        [511, 512],
        [512, 513],
        [6, 7],
      ];
      while (pairs.length < 120) {
        const size = 1 + pick(1000);
        pairs.push([pick(size), size]);
      }

      for (const [index, size] of pairs) {
        const proof = await log.inclusionProof(index, size);
        const name = `leaf ${index} of ${size}`;
        assert.deepEqual(verifyInclusionProof(proof), { ok: true }, name);
        assert.equal(proof.leafHash, hashToHex(leaves[index]), name);
        assert.equal(proof.rootHash, hashToHex(merkleTreeHash(leaves, 0, size)), name);
        assert.deepEqual(proof.proof, generateInclusionProof(index, size, rangeHash).map(hashToHex), name);

        if (proof.proof.length > 0) {
          const tampered = { ...proof, proof: proof.proof.map((hash, i) => (i === proof.proof.length - 1 ? tamper(hash) : hash)) };
          assert.equal(verifyInclusionProof(tampered).ok, false, `tampered ${name}`);
        }
        assert.equal(verifyInclusionProof({ ...proof, leafHash: tamper(proof.leafHash) }).ok, false, `other leaf ${name}`);
      }
    });

    it('returns consistency proofs that verify', async () => {
      const leaves = await ledgerLeaves();
      const rangeHash = inMemoryRangeHash(leaves);
      const pairs: [number, number][] = [
        [1, 1],
        [1, 1000],
        [512, 1000],
        [999, 1000],
        [3, 7],
        [1000, 1000],
      ];
      while (pairs.length < 120) {
        const to = 1 + pick(1000);
        pairs.push([1 + pick(to), to]);
      }

      for (const [from, to] of pairs) {
        const proof = await log.consistencyProof(from, to);
        const name = `${from} -> ${to}`;
        assert.deepEqual(verifyConsistencyProof(proof), { ok: true }, name);
        assert.equal(proof.fromRoot, hashToHex(merkleTreeHash(leaves, 0, from)), name);
        assert.equal(proof.toRoot, hashToHex(merkleTreeHash(leaves, 0, to)), name);
        assert.deepEqual(proof.proof, generateConsistencyProof(from, to, rangeHash).map(hashToHex), name);
        if (proof.proof.length > 0) {
          assert.equal(verifyConsistencyProof({ ...proof, proof: [tamper(proof.proof[0]), ...proof.proof.slice(1)] }).ok, false, `tampered ${name}`);
        }
        if (from < to) assert.equal(verifyConsistencyProof({ ...proof, fromRoot: proof.toRoot }).ok, false, `swapped ${name}`);
      }
    });

    it('rejects bad arguments by field', async () => {
      const cases: [string, Promise<unknown>, string][] = [
        ['negative size', log.rootHash(-1), '/treeSize'],
        ['fractional size', log.rootHash(2.5), '/treeSize'],
        ['index = size', log.inclusionProof(5, 5), '/leafIndex'],
        ['negative index', log.inclusionProof(-1, 5), '/leafIndex'],
        ['size not a number', log.inclusionProof(0, Number.NaN), '/treeSize'],
        ['from zero', log.consistencyProof(0, 5), '/fromSize'],
        ['from > to', log.consistencyProof(6, 5), '/fromSize'],
        ['to fractional', log.consistencyProof(1, 5.5), '/toSize'],
      ];
      for (const [name, promise, field] of cases) {
        await assert.rejects(promise, (error: unknown) => fieldOf(error) === field, name);
      }
      assert.throws(() => new PostgresMerkleLog(source, { syncBatchSize: 0 }), (error: unknown) => fieldOf(error) === '/syncBatchSize');
    });

    it('asks to sync for sizes beyond the tree', async () => {
      await append(3);
      assert.equal(await log.size(), 1000);
      // Each call starts only when awaited, so no rejection is left unhandled while another is checked.
      for (const call of [() => log.rootHash(1001), () => log.inclusionProof(0, 1002), () => log.consistencyProof(10, 1003)]) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(error instanceof FailedPreconditionError);
          assert.match(error.message, /^The Merkle tree has 1000 synced leaves, fewer than the requested tree size 100[123]\. Call sync\(\) first\.$/);
          return true;
        });
      }
    });

    it('syncs incrementally', async () => {
      const oldRoots = new Map<number, string>();
      for (const size of [1, 500, 777, 1000]) oldRoots.set(size, await log.rootHash(size));

      // The previous test appended 3 entries that were not synced yet.
      let syncedSize = 1000;
      let size = 1003;
      for (const added of [0, 1, 36, 256, 701]) {
        await append(added);
        size += added;
        const nodesBefore = await nodeCount();
        assert.equal(await log.sync(), size);
        const nodesAfter = await nodeCount();
        assert.equal(nodesAfter - nodesBefore, perfectNodeCount(size) - perfectNodeCount(syncedSize), `nodes added from ${syncedSize} to ${size}`);
        assert.equal(nodesAfter, perfectNodeCount(size), `node count at ${size}`);
        syncedSize = size;
      }
      assert.equal(size, 1997);

      const leaves = await ledgerLeaves();
      for (const [oldSize, root] of oldRoots) {
        assert.equal(await log.rootHash(oldSize), root, `root of size ${oldSize} after growth`);
        assert.equal(root, hashToHex(merkleTreeHash(leaves, 0, oldSize)));
      }
      assert.equal(await log.rootHash(size), hashToHex(merkleTreeHash(leaves)));
      assert.deepEqual(verifyConsistencyProof(await log.consistencyProof(1000, size)), { ok: true });
    });

    it('serializes concurrent syncs', async () => {
      await append(2345);
      const expectedSize = 1997 + 2345;
      // The embedded database accepts one connection, so there both syncs share it; on the server
      // the second log has a pool of its own.
      let second: WardenDatabase | undefined;
      if (target.name === 'server') second = await openDatabase(db.config, { migrate: false });
      try {
        const other = new PostgresMerkleLog(second?.dataSource ?? source, { syncBatchSize: 200 });
        const sizes = await Promise.all([log.sync(), other.sync(), log.sync(), other.sync()]);
        assert.deepEqual(sizes, [expectedSize, expectedSize, expectedSize, expectedSize]);
      } finally {
        await second?.close();
      }

      const perLevel: { level: number; n: number }[] = await source.query(
        'SELECT level, count(*)::int AS n FROM audit.merkle_nodes GROUP BY level ORDER BY level',
      );
      assert.deepEqual(
        perLevel.map((row) => row.n),
        [4342, 2171, 1085, 542, 271, 135, 67, 33, 16, 8, 4, 2, 1],
      );
      assert.equal(await log.rootHash(expectedSize), hashToHex(merkleTreeHash(await ledgerLeaves())));
      const verification = await verifyTreeAgainstLedger(source, { batchSize: 1000 });
      assert.deepEqual(verification, { ok: true, treeSize: expectedSize, leaves: expectedSize, nodes: perfectNodeCount(expectedSize) - expectedSize });
    });

    it('rejects UPDATE, DELETE and TRUNCATE on nodes', async () => {
      const count = await nodeCount();
      await assert.rejects(
        source.query("UPDATE audit.merkle_nodes SET hash = '\\x00' WHERE level = 0 AND node_index = 0"),
        /the Merkle tree is append-only: UPDATE on audit\.merkle_nodes is not allowed/,
      );
      await assert.rejects(
        source.query('DELETE FROM audit.merkle_nodes WHERE level = 1'),
        /the Merkle tree is append-only: DELETE on audit\.merkle_nodes is not allowed/,
      );
      await assert.rejects(source.query('TRUNCATE audit.merkle_nodes'), /the Merkle tree is append-only: TRUNCATE on audit\.merkle_nodes is not allowed/);
      assert.equal(await nodeCount(), count);
    });

    it('detects a node altered behind the triggers', async () => {
      const [original] = await source.query('SELECT hash FROM audit.merkle_nodes WHERE level = 3 AND node_index = 17');
      await source.query('ALTER TABLE audit.merkle_nodes DISABLE TRIGGER USER');
      try {
        await source.query('UPDATE audit.merkle_nodes SET hash = sha256(hash) WHERE level = 3 AND node_index = 17');
        const verification = await verifyTreeAgainstLedger(source);
        assert.equal(verification.ok, false);
        assert.equal(verification.problem, 'node-mismatch');
        // Level 3 node 17 is checked first as a parent of level 2, then as a child of level 4 node 8.
        assert.equal(verification.reason, 'node (3, 17) is not the hash of its two children');

        await source.query('DELETE FROM audit.merkle_nodes WHERE level = 5 AND node_index = 4');
        const missing = await verifyTreeAgainstLedger(source);
        assert.equal(missing.problem, 'node-count');
        assert.equal(missing.reason, 'level 5 has 134 nodes up to index 134, but a tree of 4342 leaves has 135');
        await assert.rejects(log.inclusionProof(170, 4000), /missing node \(5, 4\)/);
      } finally {
        await source.query('UPDATE audit.merkle_nodes SET hash = $1 WHERE level = 3 AND node_index = 17', [original.hash]);
        await source.query(
          `INSERT INTO audit.merkle_nodes (level, node_index, hash)
           SELECT 5, 4, sha256('\\x01'::bytea || l.hash || r.hash)
             FROM audit.merkle_nodes l, audit.merkle_nodes r
            WHERE l.level = 4 AND l.node_index = 8 AND r.level = 4 AND r.node_index = 9
           ON CONFLICT DO NOTHING`,
        );
        await source.query('ALTER TABLE audit.merkle_nodes ENABLE TRIGGER USER');
      }
      assert.equal((await verifyTreeAgainstLedger(source)).ok, true);
    });

    it('detects a rewritten ledger that still chains', async () => {
      const size = await log.size();
      const firstRewritten = size - 20;
      const proofBefore = await log.inclusionProof(firstRewritten - 1, size);

      // Rewrite the payload of one entry and rehash every later entry, so the chain stays valid.
      const rows: LedgerEntryRow[] = await source.query(`SELECT ${LEDGER_ENTRY_COLUMNS} FROM audit.ledger_entries WHERE seq >= $1 ORDER BY seq`, [
        firstRewritten,
      ]);
      let prevHash = toLedgerEntry(rows[0]).prevHash;
      await source.query('ALTER TABLE audit.ledger_entries DISABLE TRIGGER USER');
      try {
        for (const row of rows) {
          const entry = toLedgerEntry(row);
          const payload = entry.seq === firstRewritten ? { ...entry.payload, note: 'rewritten' } : entry.payload;
          const hash = computeEntryHash(prevHash, { ...entry, payload });
          await source.query('UPDATE audit.ledger_entries SET payload = $1::jsonb, payload_json = $5, prev_hash = $2, hash = $3 WHERE seq = $4', [
            JSON.stringify(payload),
            prevHash,
            hash,
            entry.seq,
            canonicalJson(payload),
          ]);
          prevHash = hash;
        }
      } finally {
        await source.query('ALTER TABLE audit.ledger_entries ENABLE TRIGGER USER');
      }

      assert.equal((await verifyLedger(source, { batchSize: 5000 })).ok, true);
      const verification = await verifyTreeAgainstLedger(source, { batchSize: 700 });
      assert.equal(verification.ok, false);
      assert.equal(verification.problem, 'leaf-mismatch');
      assert.equal(verification.firstBadLeaf, firstRewritten - 1);
      assert.equal(verification.leaves, firstRewritten - 1);
      assert.match(verification.reason ?? '', new RegExp(`^leaf ${firstRewritten - 1} is [0-9a-f]{64} but the ledger entry with seq ${firstRewritten} hashes to [0-9a-f]{64}$`));

      // The stored tree still proves the original entry, whose hash no longer matches the ledger.
      const proofAfter = await log.inclusionProof(firstRewritten - 1, size);
      assert.deepEqual(proofAfter, proofBefore);
      const [rewritten] = await source.query('SELECT hash FROM audit.ledger_entries WHERE seq = $1', [firstRewritten]);
      assert.notEqual(hashToHex(hashMerkleLeaf(Buffer.from(rewritten.hash, 'hex'))), proofAfter.leafHash);
    });

    it('migrates down and up again', async () => {
      const migration = new MerkleTree1796342400600();
      // The embedded database has one connection, so the runner is released before the sync.
      const runner: QueryRunner = source.createQueryRunner();
      let tablesAfterDown: { n: number }[];
      try {
        await migration.down(runner);
        tablesAfterDown = await runner.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'audit' AND tablename = 'merkle_nodes'");
        await migration.up(runner);
      } finally {
        await runner.release();
      }
      assert.equal(tablesAfterDown[0].n, 0);
      assert.equal(await log.size(), 0);
      assert.equal(await log.sync(), 1997 + 2345);
    });
  });
}
