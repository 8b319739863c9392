import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates audit.merkle_nodes, the perfect subtree hashes of the RFC 6962 Merkle tree over the
 * ledger. Node (level, node_index) covers leaves [node_index * 2^level, (node_index + 1) * 2^level),
 * and leaf i is ledger seq i + 1. A perfect node never changes, so triggers reject UPDATE, DELETE and
 * TRUNCATE as they do for the ledger. The tree is derived data: PostgresMerkleLog.sync fills it from
 * the ledger, and verifyTreeAgainstLedger recomputes it to detect tampering.
 */
export class MerkleTree1796342400600 implements MigrationInterface {
  name = 'MerkleTree1796342400600';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Level 62 covers 2^62 leaves, beyond any bigint seq, so higher levels cannot exist.
    await queryRunner.query(`
      CREATE TABLE audit.merkle_nodes (
        level smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
        node_index bigint NOT NULL CHECK (node_index >= 0),
        hash bytea NOT NULL CHECK (octet_length(hash) = 32),
        PRIMARY KEY (level, node_index)
      )`);
    await queryRunner.query(`
      CREATE FUNCTION audit.reject_merkle_node_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'the Merkle tree is append-only: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege',
                HINT = 'Perfect subtree hashes never change; sync adds new ones.';
      END $$`);
    await queryRunner.query(`
      CREATE TRIGGER merkle_nodes_no_update_delete BEFORE UPDATE OR DELETE ON audit.merkle_nodes
      FOR EACH ROW EXECUTE FUNCTION audit.reject_merkle_node_change()`);
    await queryRunner.query(`
      CREATE TRIGGER merkle_nodes_no_truncate BEFORE TRUNCATE ON audit.merkle_nodes
      FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_merkle_node_change()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE IF EXISTS audit.merkle_nodes');
    await queryRunner.query('DROP FUNCTION IF EXISTS audit.reject_merkle_node_change()');
  }
}
