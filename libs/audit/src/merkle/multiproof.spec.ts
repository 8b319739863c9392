import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadUserInputError } from '../../../common/src/index.js';
import { computeMultiproofRoot, multiproofRanges } from './multiproof.js';
import { hashMerkleLeaf, inclusionProofRanges, merkleTreeHash, verifyInclusion, type LeafRange } from './rfc6962.js';

function leaves(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => hashMerkleLeaf(Buffer.from(`entry-${i}`)));
}

const key = (range: LeafRange): string => `${range.start}-${range.end}`;

/** Deterministic pseudo-random leaf subsets, so a failure can be reproduced. */
function sampleIndexes(treeSize: number, seed: number): number[] {
  const picked: number[] = [];
  let state = seed;
  for (let index = 0; index < treeSize; index += 1) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    if (state % 5 === 0) picked.push(index);
  }
  return picked.length > 0 ? picked : [treeSize - 1];
}

describe('multiproofRanges', () => {
  it('determines the root of every tree', () => {
    for (let treeSize = 1; treeSize <= 70; treeSize += 1) {
      const tree = leaves(treeSize);
      const root = merkleTreeHash(tree);
      for (const indexes of [[0], [treeSize - 1], sampleIndexes(treeSize, treeSize), Array.from({ length: treeSize }, (_, i) => i)]) {
        const ranges = multiproofRanges(indexes, treeSize);
        const starts = ranges.map((range) => range.start);
        assert.deepEqual(starts, [...starts].sort((a, b) => a - b), `ranges of ${indexes} in ${treeSize} are not sorted`);
        for (const range of ranges) {
          assert.ok(!indexes.some((index) => index >= range.start && index < range.end), `range ${key(range)} contains a proven leaf`);
        }

        const hashes = new Map(ranges.map((range) => [key(range), merkleTreeHash(tree, range.start, range.end)]));
        const read = new Set<string>();
        const computed = computeMultiproofRoot(
          indexes.map((index) => ({ index, hash: tree[index] })),
          treeSize,
          (range) => {
            read.add(key(range));
            return hashes.get(key(range));
          },
        );
        assert.deepEqual(computed.missing, []);
        assert.deepEqual(computed.root, root, `root of ${indexes} in ${treeSize}`);
        assert.equal(read.size, ranges.length, 'the computation reads every listed range once');
      }
    }
  });

  it('needs few ranges for contiguous leaves', () => {
    const treeSize = 150_001;
    const indexes = Array.from({ length: 50_000 }, (_, i) => 100_001 + i);
    const ranges = multiproofRanges(indexes, treeSize);
    assert.ok(ranges.length <= 2 * Math.ceil(Math.log2(treeSize)), `${ranges.length} ranges`);
    assert.deepEqual(multiproofRanges([], treeSize), []);
  });

  it('rejects unsorted or outside indexes', () => {
    assert.throws(() => multiproofRanges([3, 2], 10), BadUserInputError);
    assert.throws(() => multiproofRanges([4, 4], 10), BadUserInputError);
    assert.throws(() => multiproofRanges([10], 10), BadUserInputError);
    assert.throws(() => multiproofRanges([-1], 10), BadUserInputError);
    assert.throws(() => multiproofRanges([0], -1), BadUserInputError);
  });
});

describe('computeMultiproofRoot', () => {
  it('visits every node of each audit path', () => {
    const treeSize = 45;
    const tree = leaves(treeSize);
    const root = merkleTreeHash(tree);
    const indexes = [2, 3, 17, 30, 44];
    const visited = new Map<string, Uint8Array>();
    computeMultiproofRoot(
      indexes.map((index) => ({ index, hash: tree[index] })),
      treeSize,
      (range) => merkleTreeHash(tree, range.start, range.end),
      (range, hash) => visited.set(key(range), hash),
    );
    for (const index of indexes) {
      const path = inclusionProofRanges(index, treeSize).map((range) => visited.get(key(range)));
      assert.ok(path.every((hash) => hash !== undefined), `a path node of leaf ${index} was not visited`);
      assert.deepEqual(verifyInclusion(index, treeSize, tree[index], path as Uint8Array[], root), { ok: true });
    }
  });

  it('lists missing ranges and gives no root', () => {
    const tree = leaves(8);
    const computed = computeMultiproofRoot([{ index: 5, hash: tree[5] }], 8, (range) => (range.start === 0 ? merkleTreeHash(tree, 0, 4) : undefined));
    assert.equal(computed.root, undefined);
    assert.deepEqual(computed.missing, [
      { start: 4, end: 5 },
      { start: 6, end: 8 },
    ]);
  });

  it('rejects an empty leaf list', () => {
    assert.throws(() => computeMultiproofRoot([], 4, () => undefined), RangeError);
  });
});
