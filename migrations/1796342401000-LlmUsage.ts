import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the `llm` schema of the OpenAI-compatible proxy: API keys (stored as SHA-256 hashes,
 * revoked by setting revoked_at) and one usage row per proxied call, for accounting per tenant,
 * use case and model.
 *
 * Token counts are NULL when nobody knows them (usage_source 'unknown'), never 0, so a sum does
 * not report unknown calls as free. Costs are numeric with 12 decimal places.
 */
export class LlmUsage1796342401000 implements MigrationInterface {
  name = 'LlmUsage1796342401000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS llm');
    await queryRunner.query(`
      CREATE TABLE llm.api_keys (
        id uuid PRIMARY KEY,
        key_hash text NOT NULL UNIQUE,
        key_prefix text NOT NULL,
        name text NOT NULL,
        tenant text NOT NULL,
        roles text[] NOT NULL CHECK (cardinality(roles) > 0),
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz,
        UNIQUE (tenant, name)
      )`);

    await queryRunner.query(`
      CREATE TABLE llm.usage (
        id bigserial PRIMARY KEY,
        tenant text NOT NULL,
        use_case text NOT NULL,
        model text NOT NULL,
        upstream text,
        actor text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('ok', 'blocked', 'denied', 'failed', 'aborted')),
        usage_source text NOT NULL CHECK (usage_source IN ('upstream', 'local', 'unknown', 'none')),
        prompt_tokens integer CHECK (prompt_tokens >= 0),
        completion_tokens integer CHECK (completion_tokens >= 0),
        cost numeric(24, 12),
        currency text NOT NULL,
        latency_ms integer NOT NULL,
        ledger_seq bigint NOT NULL,
        created_at timestamptz NOT NULL,
        CHECK (usage_source IN ('upstream', 'local') OR (prompt_tokens IS NULL AND completion_tokens IS NULL AND cost IS NULL))
      )`);
    await queryRunner.query('CREATE INDEX llm_usage_tenant_time ON llm.usage (tenant, created_at)');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE llm.usage');
    await queryRunner.query('DROP TABLE llm.api_keys');
    await queryRunner.query('DROP SCHEMA llm');
  }
}
