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

/** Inserts nodes with one multi-row INSERT. A node that already exists fails the statement. */
export async function insertNodes(queryable: Queryable, nodes: readonly MerkleNode[]): Promise<void> {
  if (nodes.length === 0) return;
  await queryable.query(
    `INSERT INTO audit.merkle_nodes (level, node_index, hash)
     SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])`,
    [nodes.map((node) => node.level), nodes.map((node) => node.index), nodes.map((node) => node.hash)],
  );
}
