import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inclusionProofLine, merkleNodeLine, toJsonLine } from './bundle-format.js';
import type { InclusionProof, MerkleRangeHash } from './merkle/merkle-log.types.js';

const hex = (): string => randomBytes(32).toString('hex');

describe('inclusionProofLine', () => {
  it('matches the canonical JSON line', () => {
    const cases: InclusionProof[] = [
      { leafIndex: 0, treeSize: 1, leafHash: hex(), proof: [], rootHash: hex() },
      { leafIndex: 1, treeSize: 2, leafHash: hex(), proof: [hex()], rootHash: hex() },
      { leafIndex: 4_503_599_627_370_495, treeSize: 9_007_199_254_740_991, leafHash: hex(), proof: Array.from({ length: 53 }, hex), rootHash: hex() },
      { leafIndex: 99_999, treeSize: 150_001, leafHash: hex(), proof: Array.from({ length: 18 }, hex), rootHash: hex() },
    ];
    for (const proof of cases) {
      const seq = proof.leafIndex + 1;
      assert.equal(inclusionProofLine(seq, proof), toJsonLine({ seq, ...proof }), `leaf ${proof.leafIndex} of ${proof.treeSize}`);
    }
  });
});

describe('merkleNodeLine', () => {
  it('matches the canonical JSON line', () => {
    const cases: MerkleRangeHash[] = [
      { start: 0, end: 1, hash: hex() },
      { start: 65_536, end: 131_072, hash: hex() },
      { start: 9_007_199_254_740_990, end: 9_007_199_254_740_991, hash: hex() },
    ];
    for (const node of cases) {
      assert.equal(merkleNodeLine(node), toJsonLine({ start: node.start, end: node.end, hash: node.hash }), `range [${node.start}, ${node.end})`);
    }
  });
});
