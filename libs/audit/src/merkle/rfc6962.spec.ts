import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BadUserInputError } from '../../../common/src/index.js';
import { completedNodes, foldSubtreeHashes, perfectSubtrees, type MerkleNode } from './merkle-nodes.js';
import { hashToHex, hexToHash, verifyConsistencyProof, verifyInclusionProof } from './proof-encoding.js';
import {
  consistencyProofRanges,
  emptyTreeHash,
  generateConsistencyProof,
  generateInclusionProof,
  hashMerkleChildren,
  hashMerkleLeaf,
  inclusionProofRanges,
  inMemoryRangeHash,
  merkleTreeHash,
  verifyConsistency,
  verifyInclusion,
} from './rfc6962.js';

const sha256 = (...parts: Uint8Array[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const hex = (hash: Uint8Array) => Buffer.from(hash).toString('hex');

function leaves(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => hashMerkleLeaf(Buffer.from(`entry-${i}`)));
}

function flipBit(hash: Uint8Array, bit = 0): Uint8Array {
  const copy = new Uint8Array(hash);
  copy[bit >> 3] ^= 1 << (bit & 7);
  return copy;
}

describe('hashing', () => {
  it('prefixes leaves with 0x00 and nodes with 0x01', () => {
    const data = Buffer.from('abc');
    assert.equal(hex(hashMerkleLeaf(data)), hex(sha256(Uint8Array.of(0), data)));
    const left = sha256(Buffer.from('l'));
    const right = sha256(Buffer.from('r'));
    assert.equal(hex(hashMerkleChildren(left, right)), hex(sha256(Uint8Array.of(1), left, right)));
  });

  it('hashes the empty tree to SHA-256 of nothing', () => {
    assert.equal(hashToHex(emptyTreeHash()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.deepEqual(merkleTreeHash([]), emptyTreeHash());
  });

  it('splits at the largest power of two', () => {
    const [a, b, c] = leaves(3);
    assert.deepEqual(merkleTreeHash([a, b, c]), hashMerkleChildren(hashMerkleChildren(a, b), c));
    assert.deepEqual(merkleTreeHash([a]), a);
  });

  it('rejects child hashes of the wrong size', () => {
    assert.throws(() => hashMerkleChildren(new Uint8Array(31), new Uint8Array(32)), RangeError);
  });
});

describe('perfectSubtrees', () => {
  it('splits a range largest first', () => {
    assert.deepEqual(perfectSubtrees({ start: 0, end: 13 }), [
      { level: 3, index: 0 },
      { level: 2, index: 2 },
      { level: 0, index: 12 },
    ]);
    assert.deepEqual(perfectSubtrees({ start: 8, end: 12 }), [{ level: 2, index: 2 }]);
    assert.deepEqual(perfectSubtrees({ start: 5, end: 5 }), []);
  });

  it('rejects a range no proof names', () => {
    assert.throws(() => perfectSubtrees({ start: 1, end: 4 }), RangeError);
    assert.throws(() => perfectSubtrees({ start: 2, end: 6 }), RangeError);
  });

  it('folds to MTH of every proof range', () => {
    const hashes = leaves(37);
    for (let size = 1; size <= 37; size += 1) {
      for (let index = 0; index < size; index += 1) {
        for (const range of [...inclusionProofRanges(index, size), { start: 0, end: size }]) {
          const parts = perfectSubtrees(range).map((node) => merkleTreeHash(hashes, node.index * 2 ** node.level, (node.index + 1) * 2 ** node.level));
          assert.deepEqual(foldSubtreeHashes(parts), merkleTreeHash(hashes, range.start, range.end), `[${range.start}, ${range.end})`);
        }
      }
    }
  });
});

describe('completedNodes', () => {
  it('matches the perfect subtrees of any split', () => {
    const hashes = leaves(45);
    const stored = new Map<string, Uint8Array>();
    let size = 0;
    for (const step of [1, 2, 5, 8, 13, 16]) {
      const frontier: MerkleNode[] = perfectSubtrees({ start: 0, end: size }).map((node) => ({
        ...node,
        hash: stored.get(`${node.level}/${node.index}`) as Uint8Array,
      }));
      for (const node of completedNodes(frontier, size, hashes.slice(size, size + step))) {
        assert.equal(stored.has(`${node.level}/${node.index}`), false);
        stored.set(`${node.level}/${node.index}`, node.hash);
      }
      size += step;
    }

    assert.equal(size, 45);
    // A tree of 45 leaves has floor(45 / 2^level) perfect nodes on each level.
    assert.equal(stored.size, 45 + 22 + 11 + 5 + 2 + 1);
    for (const [key, hash] of stored) {
      const [level, index] = key.split('/').map(Number);
      assert.deepEqual(hash, merkleTreeHash(hashes, index * 2 ** level, (index + 1) * 2 ** level), key);
    }
  });

  it('rejects a frontier of another size', () => {
    const [leaf] = leaves(1);
    assert.throws(() => completedNodes([], 1, [leaf]), RangeError);
  });
});

describe('inclusion proofs', () => {
  const hashes = leaves(33);
  const rangeHash = inMemoryRangeHash(hashes);

  it('verify for every leaf of trees up to 33', () => {
    for (let size = 1; size <= 33; size += 1) {
      const root = merkleTreeHash(hashes, 0, size);
      for (let index = 0; index < size; index += 1) {
        const proof = generateInclusionProof(index, size, rangeHash);
        assert.deepEqual(verifyInclusion(index, size, hashes[index], proof, root), { ok: true }, `leaf ${index} of ${size}`);
      }
    }
  });

  it('fail when anything changes', () => {
    const size = 21;
    const index = 12;
    const root = merkleTreeHash(hashes, 0, size);
    const proof = generateInclusionProof(index, size, rangeHash);
    assert.equal(proof.length, 5);

    const cases: [string, ReturnType<typeof verifyInclusion>][] = [
      ['other leaf', verifyInclusion(index, size, hashes[index + 1], proof, root)],
      ['index + 1', verifyInclusion(index + 1, size, hashes[index], proof, root)],
      ['size 16', verifyInclusion(index, 16, hashes[index], proof, root)],
      ['size * 2', verifyInclusion(index, size * 2, hashes[index], proof, root)],
      ['flipped root', verifyInclusion(index, size, hashes[index], proof, flipBit(root))],
      ['missing hash', verifyInclusion(index, size, hashes[index], proof.slice(1), root)],
      ['extra hash', verifyInclusion(index, size, hashes[index], [...proof, root], root)],
      ['short hash', verifyInclusion(index, size, hashes[index], [proof[0].subarray(1), ...proof.slice(1)], root)],
      ['index = size', verifyInclusion(size, size, hashes[index], proof, root)],
      ['negative index', verifyInclusion(-1, size, hashes[index], proof, root)],
      ['fractional size', verifyInclusion(index, 21.5, hashes[index], proof, root)],
    ];
    for (let i = 0; i < proof.length; i += 1) {
      const tampered = proof.map((hash, j) => (j === i ? flipBit(hash, 77) : hash));
      cases.push([`flipped proof[${i}]`, verifyInclusion(index, size, hashes[index], tampered, root)]);
    }
    for (const [name, result] of cases) assert.equal(result.ok, false, name);
  });

  it('name the failed check', () => {
    const root = merkleTreeHash(hashes, 0, 8);
    const proof = generateInclusionProof(3, 8, rangeHash);
    assert.deepEqual(verifyInclusion(3, 8, hashes[3], proof.slice(1), root), {
      ok: false,
      reason: 'proof has fewer than the hashes a tree of 8 needs for leaf 3',
    });
    assert.deepEqual(verifyInclusion(8, 8, hashes[3], proof, root), { ok: false, reason: 'leaf index 8 is not below tree size 8' });
  });

  it('reject bad generation arguments by field', () => {
    assert.throws(
      () => generateInclusionProof(5, 5, rangeHash),
      (error: unknown) => error instanceof BadUserInputError && error.fieldErrors[0].field === '/leafIndex',
    );
    assert.throws(
      () => generateInclusionProof(0, -1, rangeHash),
      (error: unknown) => error instanceof BadUserInputError && error.fieldErrors[0].field === '/treeSize',
    );
  });

  it('handle trees beyond 2^32 leaves', () => {
    // With identical leaves every perfect subtree of a level has the same hash, so a tree of 2^40
    // leaves costs one hash per level. This checks the index arithmetic past 32-bit integers.
    const levelHash = [hashMerkleLeaf(Buffer.from('same'))];
    for (let level = 1; level <= 50; level += 1) levelHash.push(hashMerkleChildren(levelHash[level - 1], levelHash[level - 1]));
    const uniformRangeHash = (start: number, end: number) => foldSubtreeHashes(perfectSubtrees({ start, end }).map((node) => levelHash[node.level]));

    const size = 2 ** 40 + 2 ** 33 + 5;
    const index = 2 ** 39 + 2 ** 32 + 3;
    const proof = generateInclusionProof(index, size, uniformRangeHash);
    const root = uniformRangeHash(0, size);
    assert.equal(proof.length, 41);
    assert.deepEqual(verifyInclusion(index, size, levelHash[0], proof, root), { ok: true });
    assert.equal(verifyInclusion(index, size * 2, levelHash[0], proof, root).ok, false);

    const consistency = generateConsistencyProof(index, size, uniformRangeHash);
    assert.deepEqual(verifyConsistency(index, size, uniformRangeHash(0, index), root, consistency), { ok: true });
  });
});

describe('consistency proofs', () => {
  const hashes = leaves(33);
  const rangeHash = inMemoryRangeHash(hashes);
  const root = (size: number) => merkleTreeHash(hashes, 0, size);

  it('verify for every pair of sizes up to 33', () => {
    for (let to = 1; to <= 33; to += 1) {
      for (let from = 1; from <= to; from += 1) {
        const proof = generateConsistencyProof(from, to, rangeHash);
        assert.deepEqual(verifyConsistency(from, to, root(from), root(to), proof), { ok: true }, `${from} -> ${to}`);
      }
    }
  });

  it('lists ranges for a 7-leaf tree', () => {
    // From 3 leaves the proof is leaf 2, leaf 3, MTH(D[0:2]) and MTH(D[4:7]). From 4 leaves the old
    // root is a node of the new tree, so only MTH(D[4:7]) is needed.
    assert.deepEqual(consistencyProofRanges(3, 7), [
      { start: 2, end: 3 },
      { start: 3, end: 4 },
      { start: 0, end: 2 },
      { start: 4, end: 7 },
    ]);
    assert.deepEqual(consistencyProofRanges(4, 7), [{ start: 4, end: 7 }]);
    assert.deepEqual(consistencyProofRanges(6, 7), [
      { start: 4, end: 6 },
      { start: 6, end: 7 },
      { start: 0, end: 4 },
    ]);
    assert.deepEqual(consistencyProofRanges(5, 5), []);
  });

  it('fail when anything changes', () => {
    const proof = generateConsistencyProof(6, 27, rangeHash);
    const cases: [string, ReturnType<typeof verifyConsistency>][] = [
      ['swapped roots', verifyConsistency(6, 27, root(27), root(6), proof)],
      ['other old root', verifyConsistency(6, 27, root(5), root(27), proof)],
      ['other new root', verifyConsistency(6, 27, root(6), root(26), proof)],
      ['from + 1', verifyConsistency(7, 27, root(6), root(27), proof)],
      ['to * 2', verifyConsistency(6, 54, root(6), root(27), proof)],
      ['missing hash', verifyConsistency(6, 27, root(6), root(27), proof.slice(0, -1))],
      ['extra hash', verifyConsistency(6, 27, root(6), root(27), [...proof, root(6)])],
      ['empty proof', verifyConsistency(6, 27, root(6), root(27), [])],
      ['from > to', verifyConsistency(27, 6, root(27), root(6), proof)],
      ['from zero', verifyConsistency(0, 27, emptyTreeHash(), root(27), proof)],
      ['equal sizes, proof given', verifyConsistency(6, 6, root(6), root(6), proof)],
      ['equal sizes, other roots', verifyConsistency(6, 6, root(6), root(7), [])],
    ];
    for (let i = 0; i < proof.length; i += 1) {
      const tampered = proof.map((hash, j) => (j === i ? flipBit(hash, 200) : hash));
      cases.push([`flipped proof[${i}]`, verifyConsistency(6, 27, root(6), root(27), tampered)]);
    }
    for (const [name, result] of cases) assert.equal(result.ok, false, name);
  });

  it('reject bad generation arguments by field', () => {
    for (const [from, to] of [
      [0, 5],
      [6, 5],
      [1.5, 5],
    ]) {
      assert.throws(
        () => generateConsistencyProof(from, to, rangeHash),
        (error: unknown) => error instanceof BadUserInputError && error.fieldErrors[0].field === '/fromSize',
        `${from} -> ${to}`,
      );
    }
  });
});

describe('hex proofs', () => {
  const hashes = leaves(10);
  const rangeHash = inMemoryRangeHash(hashes);

  it('verify and reject malformed hex', () => {
    const proof = {
      leafIndex: 4,
      treeSize: 10,
      leafHash: hashToHex(hashes[4]),
      proof: generateInclusionProof(4, 10, rangeHash).map(hashToHex),
      rootHash: hashToHex(merkleTreeHash(hashes)),
    };
    assert.deepEqual(verifyInclusionProof(proof), { ok: true });
    assert.equal(verifyInclusionProof({ ...proof, rootHash: proof.rootHash.toUpperCase() }).ok, false);
    assert.equal(verifyInclusionProof({ ...proof, proof: [...proof.proof.slice(1), 'zz'] }).ok, false);
    assert.equal(hexToHash('ab'), undefined);

    const consistency = {
      fromSize: 3,
      toSize: 10,
      fromRoot: hashToHex(merkleTreeHash(hashes, 0, 3)),
      toRoot: proof.rootHash,
      proof: generateConsistencyProof(3, 10, rangeHash).map(hashToHex),
    };
    assert.deepEqual(verifyConsistencyProof(consistency), { ok: true });
    assert.equal(verifyConsistencyProof({ ...consistency, fromRoot: consistency.toRoot }).ok, false);
  });
});
