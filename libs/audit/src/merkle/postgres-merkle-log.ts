import type { DataSource, EntityManager } from 'typeorm';
import { BadUserInputError, FailedPreconditionError, getLogger } from '../../../common/src/index.js';
import { toSeqNumber } from '../ledger-rows.js';
import type { ConsistencyProof, InclusionProof, MerkleLog, MerkleRangeHash } from './merkle-log.types.js';
import { completedNodes, foldSubtreeHashes, nodeKey, perfectSubtrees, type MerkleNode, type NodeAddress } from './merkle-nodes.js';
import { insertNodes, nodeNumber, readNodes, readNodeSpans, readTreeSize, type Queryable } from './merkle-node-rows.js';
import { multiproofRanges } from './multiproof.js';
import { hashToHex } from './proof-encoding.js';
import { consistencyProofRanges, emptyTreeHash, hashMerkleLeaf, inclusionProofRanges, isPowerOfTwo, type LeafRange } from './rfc6962.js';

/**
 * Key of the transaction-scoped advisory lock that serializes sync: the ASCII bytes of "WARDMRKL"
 * read as a signed 64-bit integer. It differs from the ledger's append lock ("WARDLEDG"), so a sync
 * never blocks appends.
 */
export const MERKLE_SYNC_LOCK_KEY = '6287397008094415692';

const DEFAULT_SYNC_BATCH_SIZE = 10_000;
const MAX_SYNC_BATCH_SIZE = 50_000;
const ENTRY_HASH_HEX = /^[0-9a-f]{64}$/;

/**
 * Multiproof ranges whose nodes are read in one query. Contiguous leaves need few ranges, but a
 * sparse export (one tenant of many) can need several per leaf, so reads are split to bound each
 * query's parameters and result.
 */
const MULTIPROOF_BATCH_RANGES = 10_000;

export interface PostgresMerkleLogOptions {
  /** Ledger entries read and committed per sync transaction (default 10,000, at most 50,000). */
  syncBatchSize?: number;
}

/**
 * The RFC 6962 Merkle tree over audit.ledger_entries, kept as perfect subtree hashes in
 * audit.merkle_nodes. `sync` adds the entries appended since the last sync. Every root and proof is
 * computed from O(log n) stored perfect nodes read in one query. Nothing is cached, because a cache
 * could go stale when another process syncs.
 */
export class PostgresMerkleLog implements MerkleLog {
  private readonly log = getLogger('audit-merkle');
  private readonly syncBatchSize: number;

  constructor(
    private readonly dataSource: DataSource,
    options: PostgresMerkleLogOptions = {},
  ) {
    const batchSize = options.syncBatchSize ?? DEFAULT_SYNC_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_SYNC_BATCH_SIZE) {
      throw new BadUserInputError('The Merkle log options are invalid.', [
        { field: '/syncBatchSize', message: `must be an integer from 1 to ${MAX_SYNC_BATCH_SIZE}, got ${String(batchSize)}` },
      ]);
    }
    this.syncBatchSize = batchSize;
  }

  /**
   * Adds the ledger entries committed since the last sync, one transaction per batch, and returns
   * the new tree size. Concurrent calls, from this process or another, wait for each other on an
   * advisory lock, so each node is inserted once.
   */
  async sync(): Promise<number> {
    const startedAt = performance.now();
    let added = 0;
    for (;;) {
      const batch = await this.dataSource.transaction((manager) => this.syncBatch(manager));
      added += batch.added;
      if (batch.added < this.syncBatchSize) {
        if (added > 0) {
          this.log.info({ added, treeSize: batch.treeSize, ms: Math.round(performance.now() - startedAt) }, 'Merkle tree synced');
        }
        return batch.treeSize;
      }
    }
  }

  size(): Promise<number> {
    return readTreeSize(this.dataSource);
  }

  async rootHash(treeSize: number): Promise<string> {
    if (!Number.isSafeInteger(treeSize) || treeSize < 0) {
      throw new BadUserInputError('The root hash request is invalid. Fix the listed fields.', [
        { field: '/treeSize', message: `must be a non-negative integer, got ${String(treeSize)}` },
      ]);
    }
    if (treeSize === 0) return hashToHex(emptyTreeHash());
    const [root] = await this.rangeHashes(treeSize, [{ start: 0, end: treeSize }]);
    return hashToHex(root);
  }

  async inclusionProof(leafIndex: number, treeSize: number): Promise<InclusionProof> {
    const path = inclusionProofRanges(leafIndex, treeSize);
    const [leafHash, rootHash, ...proof] = await this.rangeHashes(treeSize, [
      { start: leafIndex, end: leafIndex + 1 },
      { start: 0, end: treeSize },
      ...path,
    ]);
    return { leafIndex, treeSize, leafHash: hashToHex(leafHash), proof: proof.map(hashToHex), rootHash: hashToHex(rootHash) };
  }

  /**
   * Inclusion proofs of many leaves against one tree. The nodes of all proofs are read in one query
   * of index ranges (readNodeSpans), and each node's hex form is computed once, because proofs of
   * neighbouring leaves repeat most of their nodes. Returns the same proofs as inclusionProof.
   */
  async inclusionProofs(leafIndexes: readonly number[], treeSize: number): Promise<InclusionProof[]> {
    if (leafIndexes.length === 0) return [];
    const paths = leafIndexes.map((leafIndex) => inclusionProofRanges(leafIndex, treeSize));
    const needed = new Map<number, NodeAddress>();
    const need = (range: LeafRange): void => {
      for (const address of perfectSubtrees(range)) needed.set(nodeNumber(address.level, address.index), address);
    };
    need({ start: 0, end: treeSize });
    leafIndexes.forEach((leafIndex, i) => {
      need({ start: leafIndex, end: leafIndex + 1 });
      paths[i].forEach(need);
    });
    const nodes = await this.readNodesBySpans(needed, treeSize);

    const hexByNode = new Map<number, string>();
    const hexByRange = new Map<string, string>();
    const rangeHex = (range: LeafRange): string => {
      const size = range.end - range.start;
      if (isPowerOfTwo(size) && range.start % size === 0) {
        const key = nodeNumber(Math.log2(size), range.start / size);
        let hex = hexByNode.get(key);
        if (hex === undefined) {
          hex = hashToHex(nodes.get(key) as Uint8Array);
          hexByNode.set(key, hex);
        }
        return hex;
      }
      const rangeKey = `${range.start}-${range.end}`;
      let hex = hexByRange.get(rangeKey);
      if (hex === undefined) {
        const parts = perfectSubtrees(range).map((address) => nodes.get(nodeNumber(address.level, address.index)) as Uint8Array);
        hex = hashToHex(foldSubtreeHashes(parts));
        hexByRange.set(rangeKey, hex);
      }
      return hex;
    };

    const rootHash = rangeHex({ start: 0, end: treeSize });
    return leafIndexes.map((leafIndex, i) => ({
      leafIndex,
      treeSize,
      leafHash: rangeHex({ start: leafIndex, end: leafIndex + 1 }),
      proof: paths[i].map(rangeHex),
      rootHash,
    }));
  }

  /**
   * Yields the multiproof's ranges with their hashes in batches of MULTIPROOF_BATCH_RANGES. Each
   * batch reads the perfect subtrees of its ranges in one query of index spans (readNodeSpans), so
   * the reads grow with the number of ranges, not with the number of leaves. A range on the tree's
   * right edge that is not a perfect subtree is folded from the perfect ones it splits into.
   */
  async *multiproofNodes(leafIndexes: readonly number[], treeSize: number): AsyncGenerator<MerkleRangeHash[]> {
    const ranges = multiproofRanges(leafIndexes, treeSize);
    for (let offset = 0; offset < ranges.length; offset += MULTIPROOF_BATCH_RANGES) {
      const batch = ranges.slice(offset, offset + MULTIPROOF_BATCH_RANGES);
      const subtrees = batch.map((range) => perfectSubtrees(range));
      const needed = new Map<number, NodeAddress>();
      for (const address of subtrees.flat()) needed.set(nodeNumber(address.level, address.index), address);
      const nodes = await this.readNodesBySpans(needed, treeSize);
      yield batch.map((range, i) => {
        const hashes = subtrees[i].map((address) => nodes.get(nodeNumber(address.level, address.index)) as Uint8Array);
        return { start: range.start, end: range.end, hash: hashToHex(foldSubtreeHashes(hashes)) };
      });
    }
  }

  async consistencyProof(fromSize: number, toSize: number): Promise<ConsistencyProof> {
    const path = consistencyProofRanges(fromSize, toSize);
    const [fromRoot, toRoot, ...proof] = await this.rangeHashes(toSize, [
      { start: 0, end: fromSize },
      { start: 0, end: toSize },
      ...path,
    ]);
    return { fromSize, toSize, fromRoot: hashToHex(fromRoot), toRoot: hashToHex(toRoot), proof: proof.map(hashToHex) };
  }

  /** Inserts the nodes that the next batch of ledger entries completes, under the sync lock. */
  private async syncBatch(manager: EntityManager): Promise<{ treeSize: number; added: number }> {
    await manager.query(`SELECT pg_advisory_xact_lock(${MERKLE_SYNC_LOCK_KEY})`);
    // Read after the lock, so a sync that committed while this one waited is seen.
    const treeSize = await readTreeSize(manager);
    const rows: { seq: string | number; hash: string }[] = await manager.query(
      'SELECT seq, hash FROM audit.ledger_entries WHERE seq > $1 ORDER BY seq LIMIT $2',
      [treeSize, this.syncBatchSize],
    );
    if (rows.length === 0) return { treeSize, added: 0 };

    const leafHashes = rows.map((row, offset) => {
      const expectedSeq = treeSize + 1 + offset;
      if (toSeqNumber(row.seq) !== expectedSeq || !ENTRY_HASH_HEX.test(row.hash)) {
        // Appends commit in seq order under the ledger lock, so a gap means a deleted row.
        throw new FailedPreconditionError(
          `The ledger entry with seq ${expectedSeq} is missing or malformed, so the Merkle tree cannot grow past ${treeSize + offset} leaves. Run "warden audit verify".`,
        );
      }
      return hashMerkleLeaf(Buffer.from(row.hash, 'hex'));
    });

    const frontier = await this.readRequiredNodes(manager, perfectSubtrees({ start: 0, end: treeSize }), treeSize);
    await insertNodes(manager, completedNodes(frontier, treeSize, leafHashes));
    return { treeSize: treeSize + rows.length, added: rows.length };
  }

  /**
   * Computes MTH of each range from its perfect subtrees, read in one query. Every range must lie
   * within the first treeSize leaves.
   */
  private async rangeHashes(treeSize: number, ranges: readonly LeafRange[]): Promise<Uint8Array[]> {
    const perRange = ranges.map((range) => perfectSubtrees(range));
    const unique = new Map<string, NodeAddress>();
    for (const address of perRange.flat()) unique.set(nodeKey(address), address);
    const nodes = await this.readRequiredNodes(this.dataSource, [...unique.values()], treeSize);
    const byKey = new Map(nodes.map((node) => [nodeKey(node), node.hash]));
    return perRange.map((addresses) => foldSubtreeHashes(addresses.map((address) => byKey.get(nodeKey(address)) as Uint8Array)));
  }

  /**
   * Reads the nodes keyed by nodeNumber with readNodeSpans, failing when any is missing. The map
   * may hold extra nodes that lie inside the spans.
   */
  private async readNodesBySpans(needed: ReadonlyMap<number, NodeAddress>, treeSize: number): Promise<Map<number, Uint8Array>> {
    const nodes = await readNodeSpans(this.dataSource, [...needed.values()]);
    for (const [key, address] of needed) {
      // The ordinary read raises an error naming the missing node, or the synced size when it is too small.
      if (!nodes.has(key)) await this.readRequiredNodes(this.dataSource, [address], treeSize);
    }
    return nodes;
  }

  /** Reads nodes in the order given, failing when any is missing. */
  private async readRequiredNodes(queryable: Queryable, addresses: readonly NodeAddress[], treeSize: number): Promise<MerkleNode[]> {
    const found = await readNodes(queryable, addresses);
    if (found.size === new Set(addresses.map(nodeKey)).size) return addresses.map((address) => found.get(nodeKey(address)) as MerkleNode);

    const syncedSize = await readTreeSize(queryable);
    if (treeSize > syncedSize) {
      throw new FailedPreconditionError(
        `The Merkle tree has ${syncedSize} synced leaves, fewer than the requested tree size ${treeSize}. Call sync() first.`,
      );
    }
    const missing = addresses.find((address) => !found.has(nodeKey(address))) as NodeAddress;
    this.log.error({ level: missing.level, index: missing.index, syncedSize }, 'Merkle node missing below the synced size');
    throw new FailedPreconditionError(
      `The stored Merkle tree is missing node (${missing.level}, ${missing.index}) below its synced size. Run verifyTreeAgainstLedger.`,
    );
  }
}
