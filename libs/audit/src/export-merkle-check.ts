/**
 * The last check of an export before it signs: the exported ledger entries, with the multiproof
 * written to merkle-nodes.jsonl, must give the checkpoint's root hash, as every verifier computes
 * it. The chain check and the per-entry hash recheck cannot see an exported entry that was edited
 * and stored with its own recomputed hash before the newest recorded full verification, because
 * only the next entry's prevHash link breaks. The Merkle tree kept the entry's original leaf, so
 * the root differs, and the export fails instead of signing a bundle that no verifier accepts.
 */
import type { LedgerVerification } from './ledger.js';
import type { MerkleRangeHash } from './merkle/merkle-log.types.js';
import { computeMultiproofRoot, type ProvenLeaf } from './merkle/multiproof.js';
import { hashToHex } from './merkle/proof-encoding.js';
import { hashMerkleLeaf } from './merkle/rfc6962.js';

/** The exported entries' seqs (ascending) and hashes, and the tree that the bundle proves them in. */
export interface ExportedLeaves {
  seqs: readonly number[];
  /** Lowercase hex entry hashes, in the order of `seqs`. */
  hashes: readonly string[];
  treeSize: number;
  rootHash: string;
}

/** Yields the multiproof of the given leaf indexes in batches, as ExportEvidence.multiproofNodes does. */
export type MultiproofSource = (leafIndexes: readonly number[], treeSize: number) => AsyncIterable<MerkleRangeHash[]>;

/**
 * Returns undefined when the exported leaves and `nodes` (the lines of merkle-nodes.jsonl, sorted
 * by start) give the checkpoint's root. Otherwise returns a failed verification that names the
 * first exported seq whose leaf is not in the tree, found by bisecting over prefixes of the leaves
 * with fresh multiproofs from `multiproof`.
 */
export async function checkExportedLeaves(
  exported: ExportedLeaves,
  nodes: readonly MerkleRangeHash[],
  multiproof: MultiproofSource,
): Promise<LedgerVerification | undefined> {
  const leaves = exported.seqs.map((seq, i): ProvenLeaf => ({ index: seq - 1, hash: hashMerkleLeaf(Buffer.from(exported.hashes[i], 'hex')) }));
  if (multiproofGivesRoot(leaves, nodes, exported)) return undefined;

  // The whole set fails. Bisect for the shortest failing prefix, whose last leaf is then the first bad one.
  let low = 0;
  let high = leaves.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const prefix = leaves.slice(0, middle + 1);
    if (multiproofGivesRoot(prefix, await collectNodes(multiproof, prefix, exported.treeSize), exported)) low = middle + 1;
    else high = middle;
  }
  const seq = exported.seqs[low];
  return {
    ok: false,
    entries: 0,
    headSeq: 0,
    headHash: '',
    firstBadSeq: seq,
    problem: 'merkle-mismatch',
    reason:
      `the exported entry seq ${seq} with hash ${exported.hashes[low]} is not the leaf that the Merkle tree of the checkpoint ` +
      `(size ${exported.treeSize}) holds for it, so the ledger was rewritten after the tree recorded it. Run "warden audit verify"`,
  };
}

/**
 * Computes node(0, treeSize) from the leaves and the multiproof lines, which must be exactly the
 * ranges that the computation reads, in its order (ascending start), and compares it with the root.
 */
function multiproofGivesRoot(leaves: readonly ProvenLeaf[], nodes: readonly MerkleRangeHash[], tree: { treeSize: number; rootHash: string }): boolean {
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

async function collectNodes(multiproof: MultiproofSource, leaves: readonly ProvenLeaf[], treeSize: number): Promise<MerkleRangeHash[]> {
  const nodes: MerkleRangeHash[] = [];
  for await (const batch of multiproof(leaves.map((leaf) => leaf.index), treeSize)) nodes.push(...batch);
  return nodes;
}
