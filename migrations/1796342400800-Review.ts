import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Creates the tables of human oversight: review cases (one per decision that a routing rule sends
 * to a person), their append-only history, the votes of four-eyes cases, the stop switch of each
 * use case, and the outbox and delivery log of signed webhooks.
 *
 * A case row changes as people work on it, so it is mutable; everything that explains how it got
 * there (events, votes, switch changes, delivery attempts) is append-only and mirrored in the
 * ledger.
 */
export class Review1796342400800 implements MigrationInterface {
  name = 'Review1796342400800';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE SCHEMA IF NOT EXISTS review');
    await queryRunner.query(`
      CREATE FUNCTION review.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'review history is append-only: % on %.% is not allowed', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
          USING ERRCODE = 'insufficient_privilege';
      END $$`);

    const states = `'OPEN', 'CLAIMED', 'AWAITING_SECOND_REVIEW', 'ESCALATED', 'INFO_REQUESTED', 'DECIDED'`;
    await queryRunner.query(`
      CREATE TABLE review.cases (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        use_case text NOT NULL,
        decision_id uuid NOT NULL UNIQUE REFERENCES decisions.decision_records (id),
        requested_by text NOT NULL,
        automatic_outcome text NOT NULL,
        model_version text NOT NULL,
        reasons text[] NOT NULL CHECK (cardinality(reasons) > 0),
        priority smallint NOT NULL CHECK (priority BETWEEN 1 AND 3),
        four_eyes boolean NOT NULL,
        required_role text NOT NULL,
        state text NOT NULL CHECK (state IN (${states})),
        -- State the case returns to when a claim is released.
        queue_state text NOT NULL CHECK (queue_state IN (${states})),
        assignee text,
        sla_deadline timestamptz NOT NULL,
        final_outcome text CHECK (final_outcome IN ('APPROVE', 'DECLINE')),
        final_ledger_seq bigint,
        decided_at timestamptz,
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        CHECK ((state = 'DECIDED') = (final_outcome IS NOT NULL)),
        CHECK ((state = 'CLAIMED') = (assignee IS NOT NULL))
      )`);
    await queryRunner.query('CREATE INDEX review_cases_queue ON review.cases (tenant, state, sla_deadline)');

    await queryRunner.query(`
      CREATE TABLE review.case_events (
        id bigserial PRIMARY KEY,
        case_id uuid NOT NULL REFERENCES review.cases (id),
        actor text NOT NULL,
        action text NOT NULL,
        from_state text,
        to_state text NOT NULL,
        rationale text,
        reason_codes text[] NOT NULL DEFAULT '{}',
        detail text,
        ledger_seq bigint NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX review_case_events_case ON review.case_events (case_id, id)');

    await queryRunner.query(`
      CREATE TABLE review.votes (
        case_id uuid NOT NULL REFERENCES review.cases (id),
        round smallint NOT NULL,
        reviewer text NOT NULL,
        action text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('APPROVE', 'DECLINE')),
        rationale text NOT NULL,
        reason_codes text[] NOT NULL,
        ledger_seq bigint NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (case_id, round, reviewer)
      )`);

    await queryRunner.query(`
      CREATE TABLE review.use_case_switch_events (
        id bigserial PRIMARY KEY,
        tenant text NOT NULL,
        use_case text NOT NULL,
        suspended boolean NOT NULL,
        reason text NOT NULL,
        actor text NOT NULL,
        ledger_seq bigint NOT NULL,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query('CREATE INDEX review_switch_latest ON review.use_case_switch_events (tenant, use_case, id DESC)');

    // Outbox of webhook notifications, written in the transaction that decides a case, so no
    // final outcome is lost when the process stops before delivery.
    await queryRunner.query(`
      CREATE TABLE review.webhook_outbox (
        id uuid PRIMARY KEY,
        tenant text NOT NULL,
        event_type text NOT NULL,
        url text NOT NULL,
        body jsonb NOT NULL,
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        delivered_at timestamptz,
        created_at timestamptz NOT NULL
      )`);
    await queryRunner.query("CREATE INDEX review_webhook_due ON review.webhook_outbox (next_attempt_at) WHERE status = 'PENDING'");
    await queryRunner.query(`
      CREATE TABLE review.webhook_attempts (
        id bigserial PRIMARY KEY,
        delivery_id uuid NOT NULL REFERENCES review.webhook_outbox (id),
        attempt integer NOT NULL,
        http_status integer,
        error text,
        duration_ms integer NOT NULL,
        created_at timestamptz NOT NULL
      )`);

    for (const table of ['case_events', 'votes', 'use_case_switch_events', 'webhook_attempts']) {
      await queryRunner.query(`
        CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON review.${table}
        FOR EACH ROW EXECUTE FUNCTION review.reject_change()`);
      await queryRunner.query(`
        CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON review.${table}
        FOR EACH STATEMENT EXECUTE FUNCTION review.reject_change()`);
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['webhook_attempts', 'webhook_outbox', 'use_case_switch_events', 'votes', 'case_events', 'cases']) {
      await queryRunner.query(`DROP TABLE IF EXISTS review.${table}`);
    }
    await queryRunner.query('DROP FUNCTION IF EXISTS review.reject_change()');
    await queryRunner.query('DROP SCHEMA IF EXISTS review');
  }
}
