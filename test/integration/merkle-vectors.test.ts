// Checks Warden's RFC 6962 verifier and proof generator against the test vectors of
// transparency-dev/merkle (Apache 2.0), read from the shared data folder.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  generateConsistencyProof,
  generateInclusionProof,
  hashMerkleLeaf,
  hashToHex,
  inMemoryRangeHash,
  merkleTreeHash,
  verifyConsistency,
  verifyInclusion,
} from '../../libs/audit/src/index.js';
import { sharedDataPath } from '../support/databases.js';

interface InclusionVector {
  leafIdx: number;
  treeSize: number;
  root: string;
  leafHash: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  desc: string;
  wantErr: boolean;
}

const peer = sharedDataPath('peer/merkle-rfc6962');

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? jsonFiles(join(dir, entry.name)) : entry.name.endsWith('.json') ? [join(dir, entry.name)] : []))
    .sort();
}

const bytes = (base64: string) => new Uint8Array(Buffer.from(base64, 'base64'));
const readVector = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;

describe('RFC 6962 inclusion vectors', { skip: peer.skipReason }, () => {
  const dir = join(peer.path, 'testdata', 'inclusion');
  const files = peer.skipReason ? [] : jsonFiles(dir);

  it('finds the vector files', () => {
    assert.ok(files.length >= 90, `expected at least 90 inclusion vectors, found ${files.length}`);
  });

  for (const file of files) {
    it(relative(dir, file), () => {
      const vector = readVector<InclusionVector>(file);
      const result = verifyInclusion(vector.leafIdx, vector.treeSize, bytes(vector.leafHash), (vector.proof ?? []).map(bytes), bytes(vector.root));
      assert.equal(result.ok, !vector.wantErr, `${vector.desc}: ${result.ok ? 'accepted' : result.reason}`);
    });
  }
});

describe('RFC 6962 consistency vectors', { skip: peer.skipReason }, () => {
  const dir = join(peer.path, 'testdata', 'consistency');
  const files = peer.skipReason ? [] : jsonFiles(dir);

  it('finds the vector files', () => {
    assert.ok(files.length >= 90, `expected at least 90 consistency vectors, found ${files.length}`);
  });

  for (const file of files) {
    it(relative(dir, file), () => {
      const vector = readVector<ConsistencyVector>(file);
      const result = verifyConsistency(vector.size1, vector.size2, bytes(vector.root1), bytes(vector.root2), (vector.proof ?? []).map(bytes));
      assert.equal(result.ok, !vector.wantErr, `${vector.desc}: ${result.ok ? 'accepted' : result.reason}`);
    });
  }
});

/**
 * Reads the hex strings of one Go function of testonly/constants.go, in order. `hd("...")` calls
 * give their hex and a call to EmptyRootHash() gives that function's hex.
 */
function goFunctionHexes(source: string, name: string): string[] {
  const start = source.indexOf(`func ${name}()`);
  assert.ok(start >= 0, `constants.go has no function ${name}`);
  // The body starts after the signature's brace, so the signature's own name is not matched.
  const body = source.slice(source.indexOf('{', start), source.indexOf('\n}\n', start));
  const values: string[] = [];
  for (const match of body.matchAll(/hd\("([0-9a-f]*)"\)|EmptyRootHash\(\)/g)) {
    values.push(match[1] ?? goFunctionHexes(source, 'EmptyRootHash')[0]);
  }
  return values;
}

const constantsPath = peer.skipReason ? '' : join(peer.path, 'testonly', 'constants.go');
const constantsSkip = peer.skipReason ?? (existsSync(constantsPath) ? undefined : `${constantsPath} is missing from the shared data`);

describe('RFC 6962 canonical tree', { skip: constantsSkip }, () => {
  const source = constantsSkip ? '' : readFileSync(constantsPath, 'utf8');
  const leafHashes = () => goFunctionHexes(source, 'LeafInputs').map((hex) => hashMerkleLeaf(Buffer.from(hex, 'hex')));

  it('has the roots of sizes 0 to 8', () => {
    const leaves = leafHashes();
    const roots = goFunctionHexes(source, 'RootHashes');
    assert.equal(leaves.length, 8);
    assert.equal(roots.length, 9);
    for (let size = 0; size <= 8; size += 1) {
      assert.equal(hashToHex(merkleTreeHash(leaves, 0, size)), roots[size], `root of size ${size}`);
    }
  });

  it('generates the proofs of the happy-path vectors', () => {
    const leaves = leafHashes();
    const rangeHash = inMemoryRangeHash(leaves);
    const inclusionDir = join(peer.path, 'testdata', 'inclusion');
    const consistencyDir = join(peer.path, 'testdata', 'consistency');
    let compared = 0;

    for (const file of jsonFiles(inclusionDir).filter((path) => path.endsWith('happy-path.json'))) {
      const vector = readVector<InclusionVector>(file);
      const proof = generateInclusionProof(vector.leafIdx, vector.treeSize, rangeHash);
      assert.deepEqual(proof.map(hashToHex), (vector.proof ?? []).map((hash) => Buffer.from(hash, 'base64').toString('hex')), file);
      assert.equal(hashToHex(merkleTreeHash(leaves, 0, vector.treeSize)), Buffer.from(vector.root, 'base64').toString('hex'), file);
      assert.equal(hashToHex(leaves[vector.leafIdx]), Buffer.from(vector.leafHash, 'base64').toString('hex'), file);
      compared += 1;
    }
    for (const file of jsonFiles(consistencyDir).filter((path) => path.endsWith('happy-path.json'))) {
      const vector = readVector<ConsistencyVector>(file);
      const proof = generateConsistencyProof(vector.size1, vector.size2, rangeHash);
      assert.deepEqual(proof.map(hashToHex), (vector.proof ?? []).map((hash) => Buffer.from(hash, 'base64').toString('hex')), file);
      assert.equal(hashToHex(merkleTreeHash(leaves, 0, vector.size1)), Buffer.from(vector.root1, 'base64').toString('hex'), file);
      assert.equal(hashToHex(merkleTreeHash(leaves, 0, vector.size2)), Buffer.from(vector.root2, 'base64').toString('hex'), file);
      compared += 1;
    }
    assert.equal(compared, 10);
  });

  it('generates proofs that verify for every size', () => {
    const leaves = leafHashes();
    const rangeHash = inMemoryRangeHash(leaves);
    for (let size = 1; size <= 8; size += 1) {
      const root = merkleTreeHash(leaves, 0, size);
      for (let index = 0; index < size; index += 1) {
        const result = verifyInclusion(index, size, leaves[index], generateInclusionProof(index, size, rangeHash), root);
        assert.deepEqual(result, { ok: true }, `leaf ${index} of ${size}`);
      }
      for (let from = 1; from <= size; from += 1) {
        const result = verifyConsistency(from, size, merkleTreeHash(leaves, 0, from), root, generateConsistencyProof(from, size, rangeHash));
        assert.deepEqual(result, { ok: true }, `${from} -> ${size}`);
      }
    }
  });
});
