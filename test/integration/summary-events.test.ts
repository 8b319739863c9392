// The use case figures of the PDF summary, counted from ledger entries shaped as the answer
// service, the LLM proxy and the use case switch write them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresLedger, type LedgerEntryInput } from '../../libs/audit/src/index.js';
import { collectUseCaseSummary, renderSummaryPdf } from '../../libs/audit/src/summary-report.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';
import { pdfTextLines } from '../support/reviewed-decisions.js';

const USE_CASE = 'policy-qa';
const TENANT = 'bank-a';

/** Returns an `llm.call` payload with the fields the summary reads. */
function call(useCase: string | null, outcome: string, verdicts: { verdict: string }[], errorCode: string | null = null): Record<string, unknown> {
  return { path: '/v1/chat/completions', useCase, outcome, errorCode, guardrails: verdicts.map((verdict) => ({ guardrail: 'topic', target: 'messages', detail: 'none', ...verdict })) };
}

const ENTRIES: LedgerEntryInput[] = [
  // Counted: two withheld answers, three blocked calls (request, reply, unavailable scanner), one suspension.
  { type: 'answer.blocked', tenant: TENANT, actor: 'svc', payload: { useCase: USE_CASE, guardrails: [] } },
  { type: 'answer.blocked', tenant: TENANT, actor: 'svc', payload: { useCase: USE_CASE, guardrails: [] } },
  { type: 'llm.call', tenant: TENANT, actor: 'svc', payload: call(USE_CASE, 'blocked', [{ verdict: 'pass' }, { verdict: 'block' }], 'forbidden_topic') },
  { type: 'llm.call', tenant: TENANT, actor: 'svc', payload: call(USE_CASE, 'ok', [{ verdict: 'pass' }, { verdict: 'block' }]) },
  { type: 'llm.call', tenant: TENANT, actor: 'svc', payload: call(USE_CASE, 'blocked', [{ verdict: 'error' }], 'guardrail_unavailable') },
  { type: 'use_case.suspended', tenant: TENANT, actor: 'ops', payload: { useCase: USE_CASE, reasonHmac: 'x' } },
  // Not counted: a rate-limited call, a call that passed, another use case, a call without one, another tenant.
  { type: 'llm.call', tenant: TENANT, actor: 'svc', payload: call(USE_CASE, 'blocked', [], 'rate_limit_exceeded') },
  { type: 'llm.call', tenant: TENANT, actor: 'svc', payload: call(USE_CASE, 'ok', [{ verdict: 'pass' }]) },
  { type: 'answer.blocked', tenant: TENANT, actor: 'svc', payload: { useCase: 'other-qa', guardrails: [] } },
  { type: 'llm.call', tenant: TENANT, actor: 'svc', payload: call(null, 'blocked', [{ verdict: 'block' }], 'forbidden_topic') },
  { type: 'use_case.suspended', tenant: TENANT, actor: 'ops', payload: { useCase: 'other-qa', reasonHmac: 'x' } },
  { type: 'answer.blocked', tenant: 'bank-b', actor: 'svc', payload: { useCase: USE_CASE, guardrails: [] } },
  // A gateway denial names no use case and counts for the tenant.
  { type: 'access.denied', tenant: TENANT, actor: 'svc', payload: { operation: 'decide', resource: 'decision', action: 'create', roles: [] } },
];

for (const target of await databaseTargets()) {
  describe(`summary use case figures on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;

    before(async () => {
      db = await target.open();
      const ledger = new PostgresLedger();
      await db.database.dataSource.transaction((manager) => ledger.appendMany(manager, ENTRIES));
    });

    after(async () => {
      await db?.cleanup();
    });

    it('counts blocks and suspensions', async () => {
      const scope = { from: new Date(Date.now() - 60_000), to: new Date(Date.now() + 60_000), tenant: TENANT };
      const summary = await collectUseCaseSummary(db.database.dataSource, { useCase: USE_CASE, ...scope });
      assert.deepEqual(summary.useCaseEvents, { answersBlocked: 2, callsBlocked: 3, suspensions: 1 });
      assert.equal(summary.events['access.denied'], 1);

      const lines = pdfTextLines(await renderSummaryPdf(summary));
      assert.ok(lines.includes('Guardrail blocks of this use case: answers withheld 2, proxy calls blocked or withheld 3'), lines.join('\n'));
      assert.ok(lines.includes('Suspensions of this use case: 1'), lines.join('\n'));
      assert.ok(lines.includes('Access denials by policy, every operation of bank-a: 1'), lines.join('\n'));
    });

    it('counts nothing outside the period', async () => {
      const summary = await collectUseCaseSummary(db.database.dataSource, {
        useCase: USE_CASE,
        from: new Date('2020-01-01T00:00:00.000Z'),
        to: new Date('2020-02-01T00:00:00.000Z'),
        tenant: TENANT,
      });
      assert.deepEqual(summary.useCaseEvents, { answersBlocked: 0, callsBlocked: 0, suspensions: 0 });
    });
  });
}
