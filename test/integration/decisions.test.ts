import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyLedger } from '../../libs/audit/src/index.js';
import { canonicalJson, sha256Hex } from '../../libs/common/src/index.js';
import { createRuntime, runDemoSetup, type WardenRuntime } from '../../libs/decisions/src/index.js';
import { logit } from '../../libs/models/src/index.js';
import type { Principal } from '../../libs/policy/src/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';

const APPLICATION = {
  checking_status: 'A11', duration_months: 48, credit_history: 'A31', purpose: 'A40', credit_amount: 9000,
  savings_status: 'A61', employment_since: 'A72', installment_rate_pct: 4, other_debtors: 'A101', residence_since: 1,
  property: 'A124', age_years: 23, other_installment_plans: 'A141', housing: 'A151', existing_credits: 2, job: 'A172',
  num_dependents: 1, telephone: 'A191',
};
const PRINCIPAL: Principal = { subject: 'loan-app', tenant: 'bank-a', roles: ['application'] };

for (const target of await databaseTargets()) {
  describe(`decision pipeline on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let runtime: WardenRuntime;

    before(async () => {
      db = await target.open();
      await db.database.close();
      runtime = await createRuntime(db.config);
      await runDemoSetup(runtime, { tenant: 'bank-a', actor: 'setup' });
    });
    after(async () => {
      await runtime?.close();
      await db?.cleanup();
    });

    it('explains a decline from the approval cut-off', async () => {
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      assert.equal(decision.outcome, 'DECLINE');
      const sum = decision.attributions.reduce((total, a) => total + a.contribution, 0);
      assert.ok(Math.abs(sum - (logit(decision.score) - logit(0.3))) < 1e-9, `attributions sum ${sum}`);
      assert.ok(decision.reasonCodes.length >= 1, 'a decline needs at least one reason');
      assert.ok(decision.reasonCodes.length <= 4, 'at most four reasons');
      for (const reason of decision.reasonCodes) assert.ok(reason.contribution > 0, `${reason.code} must push toward decline`);
      assert.equal(decision.lineage.referenceLogit, logit(0.3));
    });

    it('commits concurrent decisions as one unbroken chain', async () => {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: { ...APPLICATION, age_years: 20 + i } }),
        ),
      );
      const seqs = results.map((d) => d.ledgerSeq).sort((a, b) => a - b);
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'ledger seqs must be consecutive');
      const verification = await verifyLedger(runtime.database.dataSource);
      assert.equal(verification.ok, true, verification.reason);
    });

    it('returns one decision for concurrent calls with one requestId', async () => {
      const calls = Array.from({ length: 6 }, () =>
        runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION, requestId: 'loan-77' }),
      );
      const results = await Promise.all(calls);
      assert.equal(new Set(results.map((d) => d.id)).size, 1);
      const rows = await runtime.database.dataSource.query(
        "SELECT count(*)::int AS n FROM audit.ledger_entries WHERE payload->>'decisionId' = $1",
        [results[0].id],
      );
      assert.equal(rows[0].n, 1);
    });

    it('rejects a reused requestId with other input', async () => {
      const first = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION, requestId: 'loan-88' });
      await assert.rejects(
        runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: { ...APPLICATION, duration_months: 6 }, requestId: 'loan-88' }),
        (error: Error & { code?: string }) => error.code === 'CONFLICT' && error.message.includes(first.id),
      );
    });

    it('names each invalid field', async () => {
      const application = { ...APPLICATION, duration_months: 24.5, personal_status_sex: 'x'.repeat(65), extra: 1 };
      await assert.rejects(
        runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application, requestId: 'bad\u0000id' }),
        (error: Error & { code?: string; fieldErrors?: { field: string }[] }) => {
          assert.equal(error.code, 'BAD_USER_INPUT');
          assert.deepEqual(error.fieldErrors?.map((e) => e.field), ['requestId']);
          return true;
        },
      );
      await assert.rejects(
        runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application }),
        (error: Error & { code?: string; fieldErrors?: { field: string; message: string }[] }) => {
          const byField = new Map(error.fieldErrors?.map((e) => [e.field, e.message]));
          assert.equal(byField.get('duration_months'), 'must be of type integer');
          assert.equal(byField.get('personal_status_sex'), 'must be at most 64 characters');
          assert.equal(byField.get('extra'), 'is not a field of this use case; remove it');
          return true;
        },
      );
    });

    it('rejects a requestId with personal data, also joined by underscores', async () => {
      for (const requestId of ['4111111111111111', 'txn_4111111111111111', 'iban_DE89370400440532013000_1']) {
        await assert.rejects(
          runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION, requestId }),
          (error: Error & { code?: string; fieldErrors?: { field: string; message: string }[] }) => {
            assert.equal(error.code, 'BAD_USER_INPUT');
            assert.deepEqual(error.fieldErrors?.map((e) => e.field), ['requestId'], requestId);
            assert.match(error.fieldErrors?.[0].message ?? '', /must not contain personal data/);
            return true;
          },
        );
      }
      const accepted = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION, requestId: 'loan_2026_0001' });
      assert.equal(accepted.requestId, 'loan_2026_0001');
    });

    it('rejects bad input without blocking others', async () => {
      const good = runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      const bad = runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: { ...APPLICATION, purpose: 'A99' } });
      await assert.rejects(bad, (error: Error & { code?: string }) => error.code === 'BAD_USER_INPUT');
      assert.ok((await good).ledgerSeq > 0);
    });

    it('replays identically and names a tampered field', async () => {
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      assert.deepEqual(await runtime.decisions.replay(undefined, decision.id), { decisionId: decision.id, identical: true, differences: [] });

      const source = runtime.database.dataSource;
      await source.query('ALTER TABLE decisions.decision_records DISABLE TRIGGER USER');
      await source.query(
        `UPDATE decisions.decision_records SET record = jsonb_set(record, '{outcome}', '"APPROVE"') WHERE id = $1`,
        [decision.id],
      );
      await source.query('ALTER TABLE decisions.decision_records ENABLE TRIGGER USER');

      const report = await runtime.decisions.replay(undefined, decision.id);
      assert.equal(report.identical, false);
      const fields = report.differences.map((d) => d.field);
      assert.ok(fields.includes('recordDigest'), fields.join(','));
      assert.ok(fields.includes('outcome'), fields.join(','));
      assert.ok(fields.includes('columns.outcome'), fields.join(','));
    });

    it('names a column that contradicts its record', async () => {
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      const source = runtime.database.dataSource;
      await source.query('ALTER TABLE decisions.decision_records DISABLE TRIGGER USER');
      await source.query("UPDATE decisions.decision_records SET outcome = 'APPROVE', score = 0.01 WHERE id = $1", [decision.id]);
      await source.query('ALTER TABLE decisions.decision_records ENABLE TRIGGER USER');

      const report = await runtime.decisions.replay(undefined, decision.id);
      assert.equal(report.identical, false);
      assert.deepEqual(report.differences.map((d) => d.field), ['columns.outcome', 'columns.score']);
    });

    it('rejects changes to a stored decision', async () => {
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      await assert.rejects(
        runtime.database.dataSource.query("UPDATE decisions.decision_records SET outcome = 'APPROVE' WHERE id = $1", [decision.id]),
        /immutable/,
      );
      await assert.rejects(runtime.database.dataSource.query('DELETE FROM decisions.decision_records'), /immutable/);
    });

    it('stores the record text it digests', async () => {
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      const [row] = await runtime.database.dataSource.query(
        'SELECT record_json, record_digest, record_json::jsonb = record AS same FROM decisions.decision_records WHERE id = $1',
        [decision.id],
      );
      assert.equal(sha256Hex(row.record_json), row.record_digest);
      assert.equal(row.record_json, canonicalJson(JSON.parse(row.record_json)));
      assert.equal(row.same, true);
    });

    it('keeps the record text and record together', async () => {
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      const runner = runtime.database.dataSource.createQueryRunner();
      await runner.connect();
      // Purges are rolled back, so no tombstone without its retention.purged entry outlives the test.
      await runner.startTransaction();
      try {
        await assert.rejects(
          runner.query(`UPDATE decisions.decision_records SET record_json = '{"edited":true}' WHERE id = $1`, [decision.id]),
          /immutable/,
        );
        await runner.rollbackTransaction();

        await runner.startTransaction();
        const tombstone = { purged: true, purgedAt: '2030-01-01T00:00:00.000Z', rule: 'test' };
        await runner.query('UPDATE decisions.decision_records SET record = $2::jsonb WHERE id = $1', [decision.id, JSON.stringify(tombstone)]);
        const [handPurged] = await runner.query('SELECT record_json, record FROM decisions.decision_records WHERE id = $1', [decision.id]);
        assert.equal(handPurged.record_json, null, 'a purge that sets only the jsonb clears the stale text');
        assert.deepEqual(handPurged.record, tombstone);
        await runner.rollbackTransaction();

        await runner.startTransaction();
        await runner.query('UPDATE decisions.decision_records SET record = $2::text::jsonb, record_json = $2::text WHERE id = $1', [decision.id, canonicalJson(tombstone)]);
        const [purged] = await runner.query('SELECT record_json, record FROM decisions.decision_records WHERE id = $1', [decision.id]);
        assert.equal(purged.record_json, canonicalJson(tombstone));
        assert.deepEqual(purged.record, tombstone);
      } finally {
        if (runner.isTransactionActive) await runner.rollbackTransaction();
        await runner.release();
      }
    });

    it("uses only the caller's tenant model", async () => {
      const before = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      await runDemoSetup(runtime, { tenant: 'bank-b', actor: 'setup' });
      const bankB: Principal = { subject: 'loan-app-b', tenant: 'bank-b', roles: ['application'] };
      const decisionB = await runtime.decisions.decide(bankB, { useCase: 'credit-application', application: APPLICATION });
      const after = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });

      assert.notEqual(decisionB.modelVersion, before.modelVersion, 'bank-b trained its own version');
      assert.equal(after.modelVersion, before.modelVersion, "bank-b's training must not change bank-a's model");
    });

    it('rejects a tenant without a model', async () => {
      const bankC: Principal = { subject: 'loan-app-c', tenant: 'bank-c', roles: ['application'] };
      await assert.rejects(
        runtime.decisions.decide(bankC, { useCase: 'credit-application', application: APPLICATION }),
        (error: Error & { code?: string }) => error.code === 'FAILED_PRECONDITION' && error.message.includes('warden train --use-case credit-application --tenant bank-c'),
      );
    });

    it("hides another tenant's decision", async () => {
      const decision = await runtime.decisions.decide(PRINCIPAL, { useCase: 'credit-application', application: APPLICATION });
      const other: Principal = { subject: 'x', tenant: 'bank-b', roles: ['auditor'] };
      await assert.rejects(runtime.decisions.get(other, decision.id), (error: Error & { code?: string }) => error.code === 'NOT_FOUND');
      await assert.rejects(runtime.decisions.replay(other, decision.id), (error: Error & { code?: string }) => error.code === 'NOT_FOUND');
    });
  });
}
