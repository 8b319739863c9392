import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BackgroundLeafCheck, checkExportedLeaves, type MultiproofSource } from './export-merkle-check.js';
import type { MerkleRangeHash } from './merkle/merkle-log.types.js';
import { multiproofRanges } from './merkle/multiproof.js';
import { hashToHex } from './merkle/proof-encoding.js';
import { hashMerkleLeaf, merkleTreeHash } from './merkle/rfc6962.js';

const TREE_SIZE = 37;
/** Entry hashes of seq 1 to TREE_SIZE, as lowercase hex. */
const ENTRY_HASHES = Array.from({ length: TREE_SIZE }, (_, i) => createHash('sha256').update(`entry-${i + 1}`).digest('hex'));
const LEAVES = ENTRY_HASHES.map((hash) => hashMerkleLeaf(Buffer.from(hash, 'hex')));
const ROOT_HASH = hashToHex(merkleTreeHash(LEAVES));

/** Returns the multiproof lines of the leaf indexes, with hashes from the true tree. */
function multiproofOf(leafIndexes: readonly number[]): MerkleRangeHash[] {
  return multiproofRanges(leafIndexes, TREE_SIZE).map((range) => ({ ...range, hash: hashToHex(merkleTreeHash(LEAVES.slice(range.start, range.end))) }));
}

/** Yields the true tree's multiproof in batches of two lines, as the Merkle log yields batches. */
const trueMultiproof: MultiproofSource = async function* (leafIndexes) {
  const nodes = multiproofOf(leafIndexes);
  for (let offset = 0; offset < nodes.length; offset += 2) yield nodes.slice(offset, offset + 2);
};

describe('checkExportedLeaves', () => {
  const seqs = [1, 4, 5, 6, 19, 30, 37];

  it('accepts leaves of the tree', async () => {
    const hashes = seqs.map((seq) => ENTRY_HASHES[seq - 1]);
    const nodes = multiproofOf(seqs.map((seq) => seq - 1));

    const result = await checkExportedLeaves({ seqs, hashes, treeSize: TREE_SIZE, rootHash: ROOT_HASH }, nodes, trueMultiproof);

    assert.equal(result, undefined);
  });

  it('accepts an export without entries', async () => {
    const result = await checkExportedLeaves({ seqs: [], hashes: [], treeSize: TREE_SIZE, rootHash: ROOT_HASH }, [], trueMultiproof);
    assert.equal(result, undefined);
  });

  it('names the first rehashed entry', async () => {
    for (const [position, seq] of seqs.entries()) {
      const hashes = seqs.map((other) => ENTRY_HASHES[other - 1]);
      hashes[position] = createHash('sha256').update(`rehashed-${seq}`).digest('hex');
      const nodes = multiproofOf(seqs.map((other) => other - 1));

      const result = await checkExportedLeaves({ seqs, hashes, treeSize: TREE_SIZE, rootHash: ROOT_HASH }, nodes, trueMultiproof);

      assert.equal(result?.ok, false, `seq ${seq}`);
      assert.equal(result?.problem, 'merkle-mismatch', `seq ${seq}`);
      assert.equal(result?.firstBadSeq, seq, `seq ${seq}`);
    }
  });

  it('rejects a multiproof line that differs', async () => {
    const hashes = seqs.map((seq) => ENTRY_HASHES[seq - 1]);
    const nodes = multiproofOf(seqs.map((seq) => seq - 1));
    const changed = [{ ...nodes[0], hash: 'ab'.repeat(32) }, ...nodes.slice(1)];
    const missing = nodes.slice(1);

    for (const lines of [changed, missing]) {
      const result = await checkExportedLeaves({ seqs, hashes, treeSize: TREE_SIZE, rootHash: ROOT_HASH }, lines, trueMultiproof);
      assert.equal(result?.problem, 'merkle-mismatch');
    }
  });
});

describe('BackgroundLeafCheck', () => {
  const seqs = [1, 4, 5, 6, 19, 30, 37];
  const hashes = seqs.map((seq) => ENTRY_HASHES[seq - 1]);
  const nodes = multiproofOf(seqs.map((seq) => seq - 1));

  /** Sends the entries in two parts, as an export sends them batch by batch. */
  function started(entryHashes: readonly string[]): BackgroundLeafCheck {
    const check = new BackgroundLeafCheck();
    check.add(seqs.slice(0, 3), entryHashes.slice(0, 3), 0);
    check.add(seqs, entryHashes, 3);
    return check;
  }

  it('returns true on a reused worker', async () => {
    for (let round = 0; round < 3; round += 1) {
      assert.equal(await started(hashes).check(TREE_SIZE, ROOT_HASH, nodes), true, `round ${round}`);
    }
  });

  it('returns false for changed leaves', async () => {
    const rehashed = [...hashes];
    rehashed[4] = createHash('sha256').update('rehashed-19').digest('hex');
    assert.equal(await started(rehashed).check(TREE_SIZE, ROOT_HASH, nodes), false);
    assert.equal(await started(hashes).check(TREE_SIZE, ROOT_HASH, [{ ...nodes[0], hash: 'ab'.repeat(32) }, ...nodes.slice(1)]), false);
    assert.equal(await started(hashes).check(TREE_SIZE, 'cd'.repeat(32), nodes), false);

    const answer = await started(rehashed).check(TREE_SIZE, ROOT_HASH, nodes);
    const result = await checkExportedLeaves({ seqs, hashes: rehashed, treeSize: TREE_SIZE, rootHash: ROOT_HASH }, nodes, trueMultiproof, answer);
    assert.equal(result?.firstBadSeq, 19);
  });

  it('returns true without entries', async () => {
    assert.equal(await new BackgroundLeafCheck().check(TREE_SIZE, ROOT_HASH, []), true);
  });

  it('returns undefined after worker failure', async () => {
    const check = new BackgroundLeafCheck();
    // A hash that is not 64 characters breaks the worker's framing, so the worker ends with an error.
    check.add(seqs, [...hashes.slice(0, 6), 'abc'], 0);
    const answer = await check.check(TREE_SIZE, ROOT_HASH, nodes);
    assert.equal(answer, undefined);
    assert.equal(await checkExportedLeaves({ seqs, hashes, treeSize: TREE_SIZE, rootHash: ROOT_HASH }, nodes, trueMultiproof, answer), undefined);
    // The pool starts a new worker for the next check.
    assert.equal(await started(hashes).check(TREE_SIZE, ROOT_HASH, nodes), true);
  });

  it('ends its worker on dispose', async () => {
    const check = started(hashes);
    check.dispose();
    assert.equal(await check.check(TREE_SIZE, ROOT_HASH, nodes), undefined);
  });
});
