/**
 * The RFC 6962 Merkle tree over the ledger. Leaf i (0-based) is the ledger entry with seq i + 1;
 * its leaf data is the 32 raw bytes of that entry's chain hash, so the leaf hash is
 * SHA-256(0x00 || entry hash). Hashes cross this interface as lowercase hex.
 */
export interface InclusionProof {
  /** 0-based leaf index (ledger seq - 1). */
  leafIndex: number;
  treeSize: number;
  /** SHA-256(0x00 || entry hash bytes), hex. */
  leafHash: string;
  /** Audit path from the leaf's sibling up to the root, hex, as RFC 6962 section 2.1.1 orders it. */
  proof: string[];
  /** Root hash of the tree of `treeSize` leaves, hex. */
  rootHash: string;
}

/** The hash of the leaf range [start, end) of a multiproof, MTH(D[start:end]) in hex. */
export interface MerkleRangeHash {
  start: number;
  end: number;
  hash: string;
}

export interface ConsistencyProof {
  fromSize: number;
  toSize: number;
  fromRoot: string;
  toRoot: string;
  /** Consistency path as RFC 6962 section 2.1.2 orders it, hex. */
  proof: string[];
}

/** Read access to the Merkle tree of the ledger, kept in PostgreSQL. */
export interface MerkleLog {
  /** Adds the perfect subtrees of ledger entries appended since the last call; returns the tree size. */
  sync(): Promise<number>;
  /** Number of leaves the stored tree covers (entries synced so far). */
  size(): Promise<number>;
  /** Root hash of the first `treeSize` leaves, hex. Size 0 is SHA-256 of the empty string. */
  rootHash(treeSize: number): Promise<string>;
  inclusionProof(leafIndex: number, treeSize: number): Promise<InclusionProof>;
  /** Inclusion proofs of many leaves in one tree, in the order of `leafIndexes`, with fewer reads. */
  inclusionProofs(leafIndexes: readonly number[], treeSize: number): Promise<InclusionProof[]>;
  /**
   * Yields the ranges of the multiproof of many leaves (see multiproof.ts) with their hashes, in
   * ascending start order and in batches, so a caller can write them as they arrive. The indexes
   * must be strictly ascending and below treeSize. No leaves yield nothing.
   */
  multiproofNodes(leafIndexes: readonly number[], treeSize: number): AsyncIterable<MerkleRangeHash[]>;
  consistencyProof(fromSize: number, toSize: number): Promise<ConsistencyProof>;
}
