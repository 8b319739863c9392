import type { DataSource } from 'typeorm';
import { BadUserInputError, getLogger } from '../../../common/src/index.js';
import { readTreeSize } from './merkle-node-rows.js';
import { hashToHex } from './proof-encoding.js';
import { hashMerkleChildren, hashMerkleLeaf } from './rfc6962.js';

const DEFAULT_VERIFY_BATCH_SIZE = 10_000;
const MAX_VERIFY_BATCH_SIZE = 100_000;

/** Stable code for the reason the stored tree failed verification. */
export type TreeProblem = 'node-count' | 'missing-ledger-entry' | 'leaf-mismatch' | 'node-mismatch';

export interface TreeVerification {
  ok: boolean;
  /** Leaves the stored tree covers. */
  treeSize: number;
  /** Leaves recomputed from the ledger that matched. */
  leaves: number;
  /** Nodes above level 0 recomputed from their children that matched. */
  nodes: number;
  /** Set when ok is false: the problem code and a sentence naming the first bad leaf or node. */
  problem?: TreeProblem;
  reason?: string;
  /** 0-based index of the first leaf that differs from the ledger (ledger seq is one more). */
  firstBadLeaf?: number;
}

export interface VerifyTreeOptions {
  /** Rows read per query (default 10,000). */
  batchSize?: number;
}

/**
 * Recomputes the stored Merkle tree: checks that every level contains exactly the perfect nodes of a
 * tree of its size, that each leaf equals SHA-256(0x00 || hash of the ledger entry with seq
 * leaf + 1), and that each higher node is the hash of its two children. It compares the ledger's
 * stored entry hashes and does not recompute them from the entry fields; verifyLedger does that.
 * Together they detect a ledger rewritten after sync even when the rewritten chain is consistent.
 */
export async function verifyTreeAgainstLedger(dataSource: DataSource, options: VerifyTreeOptions = {}): Promise<TreeVerification> {
  const batchSize = options.batchSize ?? DEFAULT_VERIFY_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_VERIFY_BATCH_SIZE) {
    throw new BadUserInputError('The Merkle tree verification options are invalid.', [
      { field: '/batchSize', message: `must be an integer from 1 to ${MAX_VERIFY_BATCH_SIZE}, got ${String(batchSize)}` },
    ]);
  }

  const log = getLogger('audit-merkle');
  const treeSize = await readTreeSize(dataSource);
  const result =
    (await checkNodeCounts(dataSource, treeSize)) ??
    (await checkLeaves(dataSource, treeSize, batchSize)) ??
    (await checkParents(dataSource, treeSize, batchSize));

  if (!result.ok) log.warn({ problem: result.problem, firstBadLeaf: result.firstBadLeaf }, 'Merkle tree verification failed');
  else log.info({ treeSize }, 'Merkle tree verified');
  return result;
}

/** Compares the node count of each level with floor(treeSize / 2^level). */
async function checkNodeCounts(dataSource: DataSource, treeSize: number): Promise<TreeVerification | undefined> {
  const rows: { level: number; n: string; last: string }[] = await dataSource.query(
    'SELECT level, count(*)::text AS n, max(node_index)::text AS last FROM audit.merkle_nodes GROUP BY level ORDER BY level',
  );
  const counts = new Map(rows.map((row) => [Number(row.level), { n: Number(row.n), last: Number(row.last) }]));
  const highestStoredLevel = Math.max(0, ...counts.keys());
  for (let level = 0, width = 1; width <= Math.max(treeSize, 1) || level <= highestStoredLevel; level += 1, width *= 2) {
    const expected = Math.floor(treeSize / width);
    const stored = counts.get(level) ?? { n: 0, last: -1 };
    if (stored.n !== expected || stored.last !== expected - 1) {
      return {
        ok: false,
        treeSize,
        leaves: 0,
        nodes: 0,
        problem: 'node-count',
        reason: `level ${level} has ${stored.n} nodes up to index ${stored.last}, but a tree of ${treeSize} leaves has ${expected}`,
      };
    }
  }
  return undefined;
}

async function checkLeaves(dataSource: DataSource, treeSize: number, batchSize: number): Promise<TreeVerification | undefined> {
  // checkNodeCounts has run, so level 0 contains exactly the indexes 0 .. treeSize - 1.
  for (let start = 0; start < treeSize; start += batchSize) {
    const end = Math.min(treeSize, start + batchSize);
    const rows: { node_index: string; leaf: Buffer; entry_hash: string | null }[] = await dataSource.query(
      `SELECT n.node_index::text AS node_index, n.hash AS leaf, e.hash AS entry_hash
         FROM audit.merkle_nodes n
         LEFT JOIN audit.ledger_entries e ON e.seq = n.node_index + 1
        WHERE n.level = 0 AND n.node_index >= $1 AND n.node_index < $2
        ORDER BY n.node_index`,
      [start, end],
    );

    for (const row of rows) {
      const index = Number(row.node_index);
      if (row.entry_hash === null) {
        return failedLeaf(treeSize, index, 'missing-ledger-entry', `leaf ${index} has no ledger entry with seq ${index + 1}`);
      }
      const recomputed = hashMerkleLeaf(Buffer.from(row.entry_hash, 'hex'));
      if (!Buffer.from(recomputed).equals(row.leaf)) {
        return failedLeaf(
          treeSize,
          index,
          'leaf-mismatch',
          `leaf ${index} is ${row.leaf.toString('hex')} but the ledger entry with seq ${index + 1} hashes to ${hashToHex(recomputed)}`,
        );
      }
    }
  }
  return undefined;
}

async function checkParents(dataSource: DataSource, treeSize: number, batchSize: number): Promise<TreeVerification> {
  let nodes = 0;
  let cursor = { level: 1, index: -1 };
  for (;;) {
    const rows: { level: number; node_index: string; hash: Buffer; left_hash: Buffer | null; right_hash: Buffer | null }[] =
      await dataSource.query(
        `SELECT p.level, p.node_index::text AS node_index, p.hash, l.hash AS left_hash, r.hash AS right_hash
           FROM audit.merkle_nodes p
           LEFT JOIN audit.merkle_nodes l ON l.level = p.level - 1 AND l.node_index = p.node_index * 2
           LEFT JOIN audit.merkle_nodes r ON r.level = p.level - 1 AND r.node_index = p.node_index * 2 + 1
          WHERE p.level >= 1 AND (p.level, p.node_index) > ($1::smallint, $2::bigint)
          ORDER BY p.level, p.node_index
          LIMIT $3`,
        [cursor.level, cursor.index, batchSize],
      );
    if (rows.length === 0) break;

    for (const row of rows) {
      const name = `node (${row.level}, ${row.node_index})`;
      if (!row.left_hash || !row.right_hash || !Buffer.from(hashMerkleChildren(row.left_hash, row.right_hash)).equals(row.hash)) {
        return { ok: false, treeSize, leaves: treeSize, nodes, problem: 'node-mismatch', reason: `${name} is not the hash of its two children` };
      }
      nodes += 1;
    }
    const last = rows[rows.length - 1];
    cursor = { level: Number(last.level), index: Number(last.node_index) };
  }
  return { ok: true, treeSize, leaves: treeSize, nodes };
}

function failedLeaf(treeSize: number, index: number, problem: TreeProblem, reason: string): TreeVerification {
  return { ok: false, treeSize, leaves: index, nodes: 0, problem, reason, firstBadLeaf: index };
}
