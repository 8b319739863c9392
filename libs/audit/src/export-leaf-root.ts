/**
 * The root computation that checkExportedLeaves and its worker share. It imports only the Merkle
 * code, so the worker starts without loading the rest of Warden.
 */
import type { MerkleRangeHash } from './merkle/merkle-log.types.js';
import { computeMultiproofRoot, type ProvenLeaf } from './merkle/multiproof.js';
import { hashToHex } from './merkle/proof-encoding.js';
import { hashMerkleLeaf } from './merkle/rfc6962.js';

/** Returns the proven leaf of an exported entry: index seq - 1, hash SHA-256(0x00 || entry hash bytes). */
export function exportedLeaf(seq: number, entryHash: string): ProvenLeaf {
  return { index: seq - 1, hash: hashMerkleLeaf(Buffer.from(entryHash, 'hex')) };
}

/**
 * Computes node(0, treeSize) from the leaves and the multiproof lines, which must be exactly the
 * ranges that the computation reads, in its order (ascending start), and compares it with the root.
 */
export function multiproofGivesRoot(leaves: readonly ProvenLeaf[], nodes: readonly MerkleRangeHash[], tree: { treeSize: number; rootHash: string }): boolean {
  if (leaves.length === 0) return nodes.length === 0;
  let next = 0;
  const { root } = computeMultiproofRoot(leaves, tree.treeSize, (range) => {
    const node = nodes[next];
    if (node === undefined || node.start !== range.start || node.end !== range.end) return undefined;
    next += 1;
    return Buffer.from(node.hash, 'hex');
  });
  return root !== undefined && next === nodes.length && hashToHex(root) === tree.rootHash;
}
