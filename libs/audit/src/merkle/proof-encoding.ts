/**
 * Conversions between the hex hashes of the MerkleLog interface and the raw bytes that
 * verification works on, and verification of the interface's proof objects.
 */
import type { ConsistencyProof, InclusionProof } from './merkle-log.types.js';
import { MERKLE_HASH_SIZE, verifyConsistency, verifyInclusion, type ProofVerification } from './rfc6962.js';

const HASH_HEX = /^[0-9a-f]{64}$/;

/** Converts a hash to lowercase hex. */
export function hashToHex(hash: Uint8Array): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString('hex');
}

/** Converts 64 lowercase hex characters to 32 bytes, or returns undefined for anything else. */
export function hexToHash(hex: string): Uint8Array | undefined {
  if (typeof hex !== 'string' || !HASH_HEX.test(hex)) return undefined;
  const bytes = Buffer.from(hex, 'hex');
  return bytes.length === MERKLE_HASH_SIZE ? bytes : undefined;
}

/** Verifies an InclusionProof as the MerkleLog returns it; malformed hex fails verification. */
export function verifyInclusionProof(proof: InclusionProof): ProofVerification {
  const leafHash = hexToHash(proof.leafHash);
  const rootHash = hexToHash(proof.rootHash);
  const path = decodeProof(proof.proof);
  if (!leafHash) return { ok: false, reason: 'leafHash is not 64 lowercase hex characters' };
  if (!rootHash) return { ok: false, reason: 'rootHash is not 64 lowercase hex characters' };
  if (!path) return { ok: false, reason: 'a proof hash is not 64 lowercase hex characters' };
  return verifyInclusion(proof.leafIndex, proof.treeSize, leafHash, path, rootHash);
}

/** Verifies a ConsistencyProof as the MerkleLog returns it; malformed hex fails verification. */
export function verifyConsistencyProof(proof: ConsistencyProof): ProofVerification {
  const fromRoot = hexToHash(proof.fromRoot);
  const toRoot = hexToHash(proof.toRoot);
  const path = decodeProof(proof.proof);
  if (!fromRoot) return { ok: false, reason: 'fromRoot is not 64 lowercase hex characters' };
  if (!toRoot) return { ok: false, reason: 'toRoot is not 64 lowercase hex characters' };
  if (!path) return { ok: false, reason: 'a proof hash is not 64 lowercase hex characters' };
  return verifyConsistency(proof.fromSize, proof.toSize, fromRoot, toRoot, path);
}

function decodeProof(hexes: readonly string[]): Uint8Array[] | undefined {
  if (!Array.isArray(hexes)) return undefined;
  const hashes: Uint8Array[] = [];
  for (const hex of hexes) {
    const hash = hexToHash(hex);
    if (!hash) return undefined;
    hashes.push(hash);
  }
  return hashes;
}
