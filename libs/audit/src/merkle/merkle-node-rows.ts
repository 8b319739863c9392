import type { EntityManager } from 'typeorm';
import { nodeKey, type MerkleNode, type NodeAddress } from './merkle-nodes.js';

/** Either a transaction's EntityManager or a DataSource: both run `query(sql, parameters)`. */
export type Queryable = Pick<EntityManager, 'query'>;

interface NodeRow {
  level: number;
  /** bigint arrives as a string from node-postgres. */
  node_index: string;
  hash: Buffer;
}

/** Reads the number of leaves in the stored tree: one more than the last level-0 index. */
export async function readTreeSize(queryable: Queryable): Promise<number> {
  const rows: { last: string | null }[] = await queryable.query(
    'SELECT max(node_index)::text AS last FROM audit.merkle_nodes WHERE level = 0',
  );
  const last = rows[0]?.last;
  return last === null || last === undefined ? 0 : Number(last) + 1;
}

/** Reads stored nodes by address in one query; the map has no entry for an address not stored. */
export async function readNodes(queryable: Queryable, addresses: readonly NodeAddress[]): Promise<Map<string, MerkleNode>> {
  const found = new Map<string, MerkleNode>();
  if (addresses.length === 0) return found;
  const rows: NodeRow[] = await queryable.query(
    `SELECT n.level, n.node_index::text AS node_index, n.hash
       FROM unnest($1::smallint[], $2::bigint[]) AS wanted(level, node_index)
       JOIN audit.merkle_nodes n ON n.level = wanted.level AND n.node_index = wanted.node_index`,
    [addresses.map((address) => address.level), addresses.map((address) => address.index)],
  );
  for (const row of rows) {
    const node = { level: Number(row.level), index: Number(row.node_index), hash: row.hash };
    found.set(nodeKey(node), node);
  }
  return found;
}

/**
 * Largest run of unwanted nodes that readNodeSpans reads to join two wanted nodes of one level into
 * one index range. Reading a few extra 32-byte hashes costs less than a separate index probe each.
 */
const SPAN_GAP = 4;

/**
 * Reads stored nodes by address like readNodes, but as index ranges per level: wanted nodes of one
 * level whose indexes lie at most SPAN_GAP apart are read with one range scan of the primary key.
 * Proofs of neighbouring leaves share most of their nodes, so a dense batch of proofs needs a few
 * ranges per level instead of one probe per node. The result may hold extra nodes inside the ranges.
 * Keys are nodeNumber(level, index).
 */
export async function readNodeSpans(queryable: Queryable, addresses: readonly NodeAddress[]): Promise<Map<number, Uint8Array>> {
  const found = new Map<number, Uint8Array>();
  if (addresses.length === 0) return found;
  const levels: number[] = [];
  const lows: number[] = [];
  const highs: number[] = [];
  const addSpan = (level: number, low: number, high: number): void => {
    levels.push(level);
    lows.push(low);
    highs.push(high);
  };
  const byLevel = new Map<number, number[]>();
  for (const { level, index } of addresses) {
    const indexes = byLevel.get(level);
    if (indexes) indexes.push(index);
    else byLevel.set(level, [index]);
  }
  for (const [level, indexes] of byLevel) {
    indexes.sort((a, b) => a - b);
    let low = indexes[0];
    let high = low;
    for (const index of indexes) {
      if (index - high > SPAN_GAP + 1) {
        addSpan(level, low, high);
        low = index;
      }
      high = index;
    }
    addSpan(level, low, high);
  }
  const rows: NodeRow[] = await queryable.query(
    `SELECT n.level, n.node_index::text AS node_index, n.hash
       FROM unnest($1::smallint[], $2::bigint[], $3::bigint[]) AS span(level, low, high)
       JOIN audit.merkle_nodes n ON n.level = span.level AND n.node_index BETWEEN span.low AND span.high`,
    [levels, lows, highs],
  );
  for (const row of rows) found.set(nodeNumber(Number(row.level), Number(row.node_index)), row.hash);
  return found;
}

/**
 * Numeric map key of a node: index * 64 + level. Levels stay below 64 and indexes below 2^47 for
 * any tree of fewer than 2^47 leaves, so the key is a safe integer and no string is built per node.
 */
export function nodeNumber(level: number, index: number): number {
  return index * 64 + level;
}

/** Inserts nodes with one multi-row INSERT. A node that already exists fails the statement. */
export async function insertNodes(queryable: Queryable, nodes: readonly MerkleNode[]): Promise<void> {
  if (nodes.length === 0) return;
  await queryable.query(
    `INSERT INTO audit.merkle_nodes (level, node_index, hash)
     SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])`,
    [nodes.map((node) => node.level), nodes.map((node) => node.index), nodes.map((node) => node.hash)],
  );
}
