import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { checkExportedLeaves, type MultiproofSource } from './export-merkle-check.js';
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
