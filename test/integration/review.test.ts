import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { digestJson } from '../../libs/common/src/index.js';
import { verifyLedger } from '../../libs/audit/src/index.js';
import { collectUseCaseSummary } from '../../libs/audit/src/summary-report.js';
import { runDemoSetup } from '../../libs/decisions/src/index.js';
import { generateGermanCredit } from '../../libs/ingestion/src/index.js';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const USE_CASE = 'credit-application';
const WEBHOOK_SECRET = 'test-webhook-key-with-at-least-32-characters';
const FEATURES = [
  'duration_months', 'credit_amount', 'installment_rate_pct', 'residence_since', 'age_years', 'existing_credits', 'num_dependents',
  'checking_status', 'credit_history', 'purpose', 'savings_status', 'employment_since', 'other_debtors', 'property',
  'other_installment_plans', 'housing', 'job', 'telephone',
];

const DECIDE = `mutation Decide($input: DecideInput!) {
  decide(input: $input) { id outcome reviewStatus finalOutcome ledgerSeq lineage { recordDigest } review { caseId state reasons finalOutcome reviewers finalLedgerSeq } }
}`;
const GET_DECISION = `query Get($id: ID!) {
  decision(id: $id) { id outcome reviewStatus finalOutcome ledgerSeq lineage { recordDigest } review { caseId state reasons finalOutcome reviewers finalLedgerSeq decidedAt } }
}`;
const CASE_FIELDS = `id decisionId useCase state priority reasons fourEyes requiredRole assignee requestedBy slaDeadline finalOutcome
  votes { reviewer action outcome rationale reasonCodes }
  decision { outcome score modelVersion reasonCodes { code } attributions { feature value contribution } application { name value masked description } }
  history { action actor fromState toState rationale reasonCodes detail ledgerSeq }`;
const QUEUE = `query Queue($filter: ReviewQueueFilter) { reviewQueue(filter: $filter) { id decisionId state slaDeadline priority } }`;
const CASE = `query Case($id: ID!) { reviewCase(id: $id) { ${CASE_FIELDS} } }`;
const CLAIM = `mutation Claim($id: ID!) { claimCase(id: $id) { id state assignee } }`;
const RELEASE = `mutation Release($id: ID!) { releaseCase(id: $id) { id state assignee } }`;
const SUBMIT = `mutation Submit($input: SubmitReviewInput!) { submitReview(input: $input) { id state finalOutcome requiredRole assignee } }`;
const REVEAL = `mutation Reveal($input: RevealFieldInput!) { revealCaseField(input: $input) { name value masked } }`;
const SUSPEND = `mutation Suspend($useCase: String!, $reason: String!) { suspendUseCase(useCase: $useCase, reason: $reason) { useCase suspended reason changedBy } }`;
const RESUME = `mutation Resume($useCase: String!, $reason: String!) { resumeUseCase(useCase: $useCase, reason: $reason) { useCase suspended } }`;

type Application = Record<string, string | number>;

interface DecisionResult {
  id: string;
  outcome: string;
  reviewStatus: string;
  finalOutcome: string | null;
  ledgerSeq: number;
  lineage: { recordDigest: string };
  review: { caseId: string; state: string; reasons: string[]; finalOutcome: string | null; reviewers: string[]; finalLedgerSeq: number | null } | null;
}

function applicants(count: number, seed: number): Application[] {
  return generateGermanCredit({ rows: count, seed }).map((record) => Object.fromEntries(FEATURES.map((name) => [name, record[name] as string | number])));
}

for (const target of await databaseTargets()) {
  describe(`review queue on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    let app: string;
    let alice: string;
    let bob: string;
    let carol: string;
    let senior: string;
    let auditor: string;
    let otherBank: string;
    let webhookServer: Server;
    let webhookUrl: string;
    const webhooks: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    let webhookStatus = 200;
    let pool: Application[];

    async function call<T>(query: string, variables: Record<string, unknown>, token: string): Promise<T> {
      const response = await gw.graphql<T>(query, variables, token);
      assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
      return response.body.data!;
    }

    async function callError(query: string, variables: Record<string, unknown>, token: string) {
      const response = await gw.graphql(query, variables, token);
      assert.ok(response.body.errors?.length, `expected an error, got ${JSON.stringify(response.body.data)}`);
      return response.body.errors![0];
    }

    async function decide(application: Application, token = app): Promise<DecisionResult> {
      return (await call<{ decide: DecisionResult }>(DECIDE, { input: { useCase: USE_CASE, application } }, token)).decide;
    }

    /** Decides applications from the pool until one comes out with `outcome` and no threshold rule. */
    async function decisionWith(outcome: 'REFER' | 'APPROVE' | 'DECLINE'): Promise<DecisionResult> {
      while (pool.length > 0) {
        const application = { ...pool.shift()!, credit_amount: 4000 };
        const decision = await decide(application);
        if (decision.outcome === outcome) return decision;
      }
      throw new Error(`no ${outcome} decision in the pool`);
    }

    async function getCase(id: string, token = alice) {
      return (await call<{ reviewCase: Record<string, any> }>(CASE, { id }, token)).reviewCase;
    }

    async function ledgerEntries(type: string): Promise<{ seq: string; actor: string; payload: Record<string, unknown> }[]> {
      return gw.runtime.database.dataSource.query('SELECT seq::text AS seq, actor, payload FROM audit.ledger_entries WHERE type = $1 ORDER BY seq', [type]);
    }

    /** Returns the HMAC-SHA-256 of `text` under the salt stored in `table` beside the text of ledger entry `seq`. */
    async function keyedDigest(table: 'case_events' | 'use_case_switch_events', seq: string, text: string): Promise<string> {
      const column = table === 'case_events' ? 'text_salt' : 'reason_salt';
      const [row]: { salt: Buffer }[] = await gw.runtime.database.dataSource.query(`SELECT ${column} AS salt FROM review.${table} WHERE ledger_seq = $1`, [seq]);
      assert.equal(row.salt.length, 32);
      return createHmac('sha256', row.salt).update(text, 'utf8').digest('hex');
    }

    before(async () => {
      webhookServer = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk) => (body += chunk));
        request.on('end', () => {
          webhooks.push({ headers: request.headers, body });
          response.statusCode = webhookStatus;
          response.end();
        });
      });
      await new Promise<void>((resolve) => webhookServer.listen(0, '127.0.0.1', resolve));
      webhookUrl = `http://127.0.0.1:${(webhookServer.address() as { port: number }).port}/events`;

      gw = await startTestGateway(target, { webhookUrl, webhookSecret: WEBHOOK_SECRET });
      await runDemoSetup(gw.runtime, { tenant: 'bank-a', actor: 'test-setup' });
      app = await gw.token('bank-a', ['application'], 'loan-app');
      alice = await gw.token('bank-a', ['reviewer'], 'alice');
      bob = await gw.token('bank-a', ['reviewer'], 'bob');
      carol = await gw.token('bank-a', ['reviewer'], 'carol');
      senior = await gw.token('bank-a', ['senior-reviewer'], 'sam');
      auditor = await gw.token('bank-a', ['auditor'], 'audit-1');
      otherBank = await gw.token('bank-b', ['reviewer', 'senior-reviewer'], 'dora');
      pool = applicants(400, 7);
    });

    after(async () => {
      await gw?.close();
      await new Promise((resolve) => webhookServer?.close(resolve));
    });

    it('opens a case for a REFER decision and lists it in the queue', async () => {
      const decision = await decisionWith('REFER');
      assert.equal(decision.reviewStatus, 'PENDING');
      assert.equal(decision.finalOutcome, null);
      assert.ok(decision.review, 'the decision names its review case');
      assert.deepEqual(decision.review.reasons, ['REFER_BAND']);
      assert.equal(decision.review.state, 'OPEN');

      const queue = (await call<{ reviewQueue: { id: string; decisionId: string; slaDeadline: string }[] }>(QUEUE, {}, alice)).reviewQueue;
      assert.ok(queue.some((item) => item.id === decision.review!.caseId && item.decisionId === decision.id));
      const deadlines = queue.map((item) => Date.parse(item.slaDeadline));
      assert.deepEqual(deadlines, [...deadlines].sort((a, b) => a - b), 'the queue is sorted by SLA deadline');

      const [entry] = (await ledgerEntries('decision.created')).filter((row) => row.payload.decisionId === decision.id);
      assert.deepEqual(entry.payload.review, ['REFER_BAND'], 'the decision entry in the ledger says it went to review');

      // Another tenant gets neither the case in its queue nor the case itself.
      const otherQueue = (await call<{ reviewQueue: { id: string }[] }>(QUEUE, {}, otherBank)).reviewQueue;
      assert.equal(otherQueue.length, 0);
      assert.equal((await callError(CASE, { id: decision.review.caseId }, otherBank)).extensions?.code, 'NOT_FOUND');
    });

    it('reviews a REFER to a final outcome', async () => {
      const decision = await decisionWith('REFER');
      const caseId = decision.review!.caseId;

      assert.equal((await callError(SUBMIT, { input: { caseId, action: 'APPROVE', rationale: 'Income documents verified.' } }, alice)).extensions?.code, 'CONFLICT');
      const claimed = (await call<{ claimCase: { state: string; assignee: string } }>(CLAIM, { id: caseId }, alice)).claimCase;
      assert.deepEqual(claimed, { id: caseId, state: 'CLAIMED', assignee: 'alice' } as never);
      assert.equal((await callError(CLAIM, { id: caseId }, bob)).extensions?.code, 'CONFLICT');
      assert.equal((await callError(RELEASE, { id: caseId }, bob)).extensions?.code, 'FORBIDDEN');

      const short = await callError(SUBMIT, { input: { caseId, action: 'APPROVE', rationale: 'ok' } }, alice);
      assert.equal(short.extensions?.code, 'BAD_USER_INPUT');
      assert.equal((short.extensions?.fieldErrors as { field: string }[])[0].field, 'rationale');

      const decided = (await call<{ submitReview: { state: string; finalOutcome: string } }>(
        SUBMIT,
        { input: { caseId, action: 'APPROVE', rationale: 'Stable employment and savings verified by phone.' } },
        alice,
      )).submitReview;
      assert.equal(decided.state, 'DECIDED');
      assert.equal(decided.finalOutcome, 'APPROVE');

      const after = (await call<{ decision: DecisionResult }>(GET_DECISION, { id: decision.id }, app)).decision;
      assert.equal(after.outcome, 'REFER', 'the automatic outcome is never changed');
      assert.equal(after.lineage.recordDigest, decision.lineage.recordDigest, 'the decision record is untouched');
      assert.equal(after.ledgerSeq, decision.ledgerSeq);
      assert.equal(after.reviewStatus, 'COMPLETED');
      assert.equal(after.finalOutcome, 'APPROVE');
      assert.deepEqual(after.review!.reviewers, ['alice']);

      const final = (await ledgerEntries('review.decided')).find((row) => row.payload.caseId === caseId)!;
      assert.equal(Number(final.seq), after.review!.finalLedgerSeq);
      assert.equal(final.actor, 'alice');
      assert.equal(final.payload.decisionId, decision.id);
      assert.equal(final.payload.decisionLedgerSeq, decision.ledgerSeq, 'the final outcome points at the decision entry');
      assert.equal(final.payload.decisionRecordDigest, decision.lineage.recordDigest);
      assert.equal(final.payload.automaticOutcome, 'REFER');
      assert.equal(final.payload.finalOutcome, 'APPROVE');
      assert.equal(final.payload.rationaleHmac, await keyedDigest('case_events', final.seq, 'Stable employment and savings verified by phone.'));
      assert.equal('rationaleDigest' in final.payload, false, 'a plain SHA-256 of a short text can be guessed');
      assert.ok(!JSON.stringify(final.payload).includes('Stable employment'), 'the rationale text stays out of the ledger');

      const history = (await getCase(caseId)).history as { action: string; ledgerSeq: number }[];
      assert.deepEqual(history.map((event) => event.action), ['created', 'claimed', 'decided']);
      assert.equal(history[0].ledgerSeq, decision.ledgerSeq);
      assert.equal(history[2].ledgerSeq, Number(final.seq));

      assert.equal((await callError(CLAIM, { id: caseId }, bob)).extensions?.code, 'CONFLICT', 'a decided case cannot be claimed again');
      const verification = await verifyLedger(gw.runtime.database.dataSource);
      assert.equal(verification.ok, true, JSON.stringify(verification));
    });

    it('does not let the subject who requested a decision review it', async () => {
      const both = await gw.token('bank-a', ['application', 'reviewer'], 'desk-officer');
      let decision: DecisionResult | undefined;
      while (!decision) {
        const candidate = await decide({ ...pool.shift()!, credit_amount: 4000 }, both);
        if (candidate.outcome === 'REFER') decision = candidate;
      }
      const error = await callError(CLAIM, { id: decision.review!.caseId }, both);
      assert.equal(error.extensions?.code, 'FORBIDDEN');
      assert.match(error.message, /requested this decision/);
      const denial = (await ledgerEntries('access.denied')).find((row) => row.payload.caseId === decision!.review!.caseId);
      assert.ok(denial, 'the denial is in the ledger');
      assert.equal(denial.actor, 'desk-officer');
      assert.equal(denial.payload.operation, 'review.claim');
    });

    it('needs two different reviewers who agree on a four-eyes case', async () => {
      const decision = await decide({ ...pool.shift()!, credit_amount: 16000 });
      assert.ok(decision.review!.reasons.includes('THRESHOLD_EXCEEDED'));
      const caseId = decision.review!.caseId;
      const fourEyesCase = await getCase(caseId);
      assert.equal(fourEyesCase.fourEyes, true);
      // Coded values carry their meaning from the dataset definition, so reviewers can read them.
      const checking = (fourEyesCase.decision.application as { name: string; value: string; description: string | null }[]).find(
        (field) => field.name === 'checking_status',
      )!;
      const meanings: Record<string, string> = { A11: 'below 0 DM', A12: '0 to below 200 DM', A14: 'no checking account' };
      if (meanings[checking.value]) assert.equal(checking.description, meanings[checking.value]);
      else assert.match(checking.description ?? '', /200 DM or more/);

      await call(CLAIM, { id: caseId }, alice);
      const first = (await call<{ submitReview: { state: string; finalOutcome: string | null } }>(
        SUBMIT,
        { input: { caseId, action: 'APPROVE', rationale: 'Collateral covers the amount; approve.' } },
        alice,
      )).submitReview;
      assert.equal(first.state, 'AWAITING_SECOND_REVIEW');
      assert.equal(first.finalOutcome, null);

      const again = await callError(CLAIM, { id: caseId }, alice);
      assert.equal(again.extensions?.code, 'FORBIDDEN', 'the first reviewer cannot give the second vote');
      assert.match(again.message, /different reviewer/);

      await call(CLAIM, { id: caseId }, bob);
      const second = (await call<{ submitReview: { state: string; finalOutcome: string } }>(
        SUBMIT,
        { input: { caseId, action: 'APPROVE', rationale: 'Agree: collateral and income are documented.' } },
        bob,
      )).submitReview;
      assert.equal(second.state, 'DECIDED');
      assert.equal(second.finalOutcome, 'APPROVE');
      const view = (await call<{ decision: DecisionResult }>(GET_DECISION, { id: decision.id }, app)).decision;
      assert.deepEqual(view.review!.reviewers, ['alice', 'bob']);
      const votes = (await getCase(caseId)).votes as { reviewer: string }[];
      assert.deepEqual(votes.map((vote) => vote.reviewer), ['alice', 'bob']);
    });

    it('escalates a four-eyes disagreement', async () => {
      const decision = await decide({ ...pool.shift()!, credit_amount: 17000 });
      const caseId = decision.review!.caseId;
      await call(CLAIM, { id: caseId }, alice);
      await call(SUBMIT, { input: { caseId, action: 'APPROVE', rationale: 'Long customer relationship, approve.' } }, alice);
      await call(CLAIM, { id: caseId }, bob);
      const split = (await call<{ submitReview: { state: string; requiredRole: string } }>(
        SUBMIT,
        { input: { caseId, action: 'DECLINE', rationale: 'Debt ratio too high for this amount.', reasonCodes: ['RB02'] } },
        bob,
      )).submitReview;
      assert.equal(split.state, 'ESCALATED');
      assert.equal(split.requiredRole, 'senior-reviewer');

      assert.equal((await callError(CLAIM, { id: caseId }, carol)).extensions?.code, 'FORBIDDEN', 'a reviewer cannot take an escalated case');
      await call(CLAIM, { id: caseId }, senior);
      const noReasons = await callError(SUBMIT, { input: { caseId, action: 'DECLINE', rationale: 'Debt ratio exceeds policy.' } }, senior);
      assert.equal(noReasons.extensions?.code, 'BAD_USER_INPUT');
      assert.equal((noReasons.extensions?.fieldErrors as { field: string }[])[0].field, 'reasonCodes');
      const unknownCode = await callError(SUBMIT, { input: { caseId, action: 'DECLINE', rationale: 'Debt ratio exceeds policy.', reasonCodes: ['NOPE'] } }, senior);
      assert.equal(unknownCode.extensions?.code, 'BAD_USER_INPUT');

      const final = (await call<{ submitReview: { state: string; finalOutcome: string } }>(
        SUBMIT,
        { input: { caseId, action: 'DECLINE', rationale: 'Debt ratio exceeds policy for this amount.', reasonCodes: ['RB02'] } },
        senior,
      )).submitReview;
      assert.equal(final.state, 'DECIDED');
      assert.equal(final.finalOutcome, 'DECLINE');
      const entry = (await ledgerEntries('review.escalated')).find((row) => row.payload.caseId === caseId);
      assert.equal(entry?.payload.disagreement, true);
    });

    it('overrides a definite automatic outcome only with a different outcome', async () => {
      // A large loan goes to review whatever the model's outcome, so pick one the model approved or declined.
      let decision: DecisionResult | undefined;
      while (!decision) {
        const candidate = await decide({ ...pool.shift()!, credit_amount: 15500 });
        if (candidate.outcome !== 'REFER') decision = candidate;
      }
      const caseId = decision.review!.caseId;
      const opposite = decision.outcome === 'APPROVE' ? 'DECLINE' : 'APPROVE';
      await call(CLAIM, { id: caseId }, carol);
      const same = await callError(SUBMIT, { input: { caseId, action: 'OVERRIDE', outcome: decision.outcome, rationale: 'Override to the same.' } }, carol);
      assert.equal(same.extensions?.code, 'BAD_USER_INPUT');
      const missing = await callError(SUBMIT, { input: { caseId, action: 'OVERRIDE', rationale: 'Override without outcome.' } }, carol);
      assert.equal((missing.extensions?.fieldErrors as { field: string }[])[0].field, 'outcome');
      const voted = (await call<{ submitReview: { state: string } }>(
        SUBMIT,
        { input: { caseId, action: 'OVERRIDE', outcome: opposite, rationale: 'Model missed the guarantor on file.', reasonCodes: ['RB01'] } },
        carol,
      )).submitReview;
      assert.equal(voted.state, 'AWAITING_SECOND_REVIEW', 'the large-loan rule asks for four eyes');
      const vote = ((await getCase(caseId)).votes as { action: string; outcome: string }[])[0];
      assert.deepEqual({ action: vote.action, outcome: vote.outcome }, { action: 'OVERRIDE', outcome: opposite });
    });

    it('reveals a masked field with a reason', async () => {
      const decision = await decisionWith('REFER');
      const caseId = decision.review!.caseId;
      const before = await getCase(caseId);
      const age = (before.decision.application as { name: string; value: string; masked: boolean }[]).find((field) => field.name === 'age_years')!;
      assert.equal(age.masked, true);
      assert.ok(!/\d/.test(age.value), 'a masked value shows no digits');
      const ageAttribution = (before.decision.attributions as { feature: string }[]).find((item) => item.feature === 'age_years');
      assert.equal(ageAttribution, undefined, 'the attribution of a masked field would give its value away');
      // Reviewers read decisions only through their cases, which mask personal fields.
      assert.equal((await callError(GET_DECISION, { id: decision.id }, alice)).extensions?.code, 'FORBIDDEN');

      const reason = 'Applicant disputes the age on file; checking against ID.';
      assert.equal((await callError(REVEAL, { input: { caseId, field: 'age_years', reason } }, alice)).extensions?.code, 'FORBIDDEN');
      await call(CLAIM, { id: caseId }, alice);
      assert.equal((await callError(REVEAL, { input: { caseId, field: 'age_years', reason: 'why' } }, alice)).extensions?.code, 'BAD_USER_INPUT');
      assert.equal((await callError(REVEAL, { input: { caseId, field: 'purpose', reason } }, alice)).extensions?.code, 'BAD_USER_INPUT');

      const revealed = (await call<{ revealCaseField: { name: string; value: string; masked: boolean } }>(REVEAL, { input: { caseId, field: 'age_years', reason } }, alice)).revealCaseField;
      const [stored] = (await gw.runtime.database.dataSource.query('SELECT record FROM decisions.decision_records WHERE id = $1', [decision.id])) as {
        record: { lineage: { featureValues: Application } };
      }[];
      assert.deepEqual(revealed, { name: 'age_years', value: String(stored.record.lineage.featureValues.age_years), masked: false });

      const entry = (await ledgerEntries('review.field_revealed')).find((row) => row.payload.caseId === caseId)!;
      assert.equal(entry.actor, 'alice');
      assert.equal(entry.payload.field, 'age_years');
      assert.equal(entry.payload.reasonHmac, await keyedDigest('case_events', entry.seq, reason));
      assert.notEqual(entry.payload.reasonHmac, digestJson(reason));
      const history = (await getCase(caseId)).history as { action: string; detail: string; ledgerSeq: number }[];
      const event = history.find((item) => item.action === 'field_revealed')!;
      assert.equal(event.detail, 'age_years');
      assert.equal(event.ledgerSeq, Number(entry.seq));
      await call(RELEASE, { id: caseId }, alice);
    });

    it('keeps voters and escalators from settling a case', async () => {
      // A senior who escalates a four-eyes case cannot then decide it alone.
      const large = await decide({ ...pool.shift()!, credit_amount: 18000 });
      const caseId = large.review!.caseId;
      await call(CLAIM, { id: caseId }, senior);
      await call(SUBMIT, { input: { caseId, action: 'ESCALATE', rationale: 'Needs a second senior opinion.' } }, senior);
      const again = await callError(CLAIM, { id: caseId }, senior);
      assert.equal(again.extensions?.code, 'FORBIDDEN');
      assert.match(again.message, /already voted on or escalated/);

      // The first voter of a split four-eyes case cannot settle the escalation, even as a senior.
      const split = await decide({ ...pool.shift()!, credit_amount: 18500 });
      const splitId = split.review!.caseId;
      const seniorAlice = await gw.token('bank-a', ['senior-reviewer'], 'Alice ');
      await call(CLAIM, { id: splitId }, alice);
      await call(SUBMIT, { input: { caseId: splitId, action: 'DECLINE', rationale: 'Too much existing debt.', reasonCodes: ['RB02'] } }, alice);
      await call(CLAIM, { id: splitId }, bob);
      await call(SUBMIT, { input: { caseId: splitId, action: 'APPROVE', rationale: 'Debt is being refinanced.' } }, bob);
      assert.equal((await callError(CLAIM, { id: splitId }, seniorAlice)).extensions?.code, 'FORBIDDEN', 'case and spaces do not make another person');

      // A senior reviewer may free a claim held by someone who is away.
      const held = await decisionWith('REFER');
      await call(CLAIM, { id: held.review!.caseId }, carol);
      const freed = (await call<{ releaseCase: { state: string; assignee: string | null } }>(RELEASE, { id: held.review!.caseId }, senior)).releaseCase;
      assert.deepEqual({ state: freed.state, assignee: freed.assignee }, { state: 'OPEN', assignee: null });
    });

    it('rejects malformed review input', async () => {
      const decision = await decisionWith('REFER');
      const caseId = decision.review!.caseId;
      await call(CLAIM, { id: caseId }, alice);
      const cases: [Record<string, unknown>, string][] = [
        [{ action: 'APPROVE', rationale: 'Checked\u0000 income.' }, 'rationale'],
        [{ action: 'APPROVE', rationale: '\u200b'.repeat(12) }, 'rationale'],
        [{ action: 'APPROVE', rationale: 'Income verified by phone.', outcome: 'DECLINE' }, 'outcome'],
        [{ action: 'OVERRIDE', rationale: 'Override a referral.', outcome: 'APPROVE' }, 'action'],
      ];
      for (const [input, field] of cases) {
        const error = await callError(SUBMIT, { input: { caseId, ...input } }, alice);
        assert.equal(error.extensions?.code, 'BAD_USER_INPUT', JSON.stringify(input));
        assert.equal((error.extensions?.fieldErrors as { field: string }[])[0].field, field);
      }
    });

    it('states the reasons of both agreeing four-eyes votes in the final outcome', async () => {
      const decision = await decide({ ...pool.shift()!, credit_amount: 19000 });
      const caseId = decision.review!.caseId;
      await call(CLAIM, { id: caseId }, alice);
      await call(SUBMIT, { input: { caseId, action: 'DECLINE', rationale: 'Overdrawn checking account.', reasonCodes: ['RB01'] } }, alice);
      await call(CLAIM, { id: caseId }, bob);
      await call(SUBMIT, { input: { caseId, action: 'DECLINE', rationale: 'Term too long for the income.', reasonCodes: ['RB02'] } }, bob);
      const final = (await ledgerEntries('review.decided')).find((row) => row.payload.caseId === caseId)!;
      assert.deepEqual(final.payload.reasonCodes, ['RB01', 'RB02']);
    });

    it('escalates and requests information as the submitted actions say', async () => {
      const decision = await decisionWith('REFER');
      const caseId = decision.review!.caseId;
      await call(CLAIM, { id: caseId }, alice);
      const info = (await call<{ submitReview: { state: string; assignee: string | null } }>(
        SUBMIT,
        { input: { caseId, action: 'REQUEST_INFO', rationale: 'Need the latest payslip from the applicant.' } },
        alice,
      )).submitReview;
      assert.deepEqual({ state: info.state, assignee: info.assignee }, { state: 'INFO_REQUESTED', assignee: null });
      await call(CLAIM, { id: caseId }, alice);
      const escalated = (await call<{ submitReview: { state: string; requiredRole: string } }>(
        SUBMIT,
        { input: { caseId, action: 'ESCALATE', rationale: 'Payslip looks altered; needs a senior look.' } },
        alice,
      )).submitReview;
      assert.deepEqual({ state: escalated.state, requiredRole: escalated.requiredRole }, { state: 'ESCALATED', requiredRole: 'senior-reviewer' });
      await call(CLAIM, { id: caseId }, senior);
      const released = (await call<{ releaseCase: { state: string } }>(RELEASE, { id: caseId }, senior)).releaseCase;
      assert.equal(released.state, 'ESCALATED', 'a released case returns to the state it was claimed from');
    });

    it('suspends and resumes a use case', async () => {
      const reason = 'Drift alarm on the credit model; stop until validated.';
      assert.equal((await callError(SUSPEND, { useCase: USE_CASE, reason }, alice)).extensions?.code, 'FORBIDDEN');
      assert.equal((await callError(SUSPEND, { useCase: USE_CASE, reason: 'x' }, senior)).extensions?.code, 'BAD_USER_INPUT');
      const status = (await call<{ suspendUseCase: { suspended: boolean; changedBy: string } }>(SUSPEND, { useCase: USE_CASE, reason }, senior)).suspendUseCase;
      assert.deepEqual({ suspended: status.suspended, changedBy: status.changedBy }, { suspended: true, changedBy: 'sam' });
      assert.equal((await callError(SUSPEND, { useCase: USE_CASE, reason }, senior)).extensions?.code, 'CONFLICT');

      const refused = await callError(DECIDE, { input: { useCase: USE_CASE, application: pool[0] } }, app);
      assert.equal(refused.extensions?.code, 'USE_CASE_SUSPENDED');
      // Another tenant's switch is its own.
      const otherApp = await gw.token('bank-b', ['application'], 'loan-app-b');
      const otherResponse = await gw.graphql(DECIDE, { input: { useCase: USE_CASE, application: pool[0] } }, otherApp);
      assert.notEqual(otherResponse.body.errors?.[0]?.extensions?.code, 'USE_CASE_SUSPENDED');

      await call(RESUME, { useCase: USE_CASE, reason: 'Model revalidated by the model risk team.' }, senior);
      assert.ok((await decide({ ...pool.shift()!, credit_amount: 4000 })).id);
      const suspended = await ledgerEntries('use_case.suspended');
      const resumed = await ledgerEntries('use_case.resumed');
      assert.equal(suspended.length, 1);
      assert.equal(resumed.length, 1);
      assert.equal(suspended[0].payload.useCase, USE_CASE);
      assert.equal(suspended[0].actor, 'sam');
      assert.equal(suspended[0].payload.reasonHmac, await keyedDigest('use_case_switch_events', suspended[0].seq, reason));
      assert.equal('reasonDigest' in suspended[0].payload, false);
    });

    it('streams decisionUpdated to a subscriber', async () => {
      const decision = await decisionWith('REFER');
      const caseId = decision.review!.caseId;
      const wsUrl = gw.gateway.graphqlUrl.replace('http://', 'ws://');

      const anonymous = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false, onNonLazyError: () => {} });
      const refusal = await new Promise<unknown>((resolve) => {
        anonymous.subscribe({ query: `subscription { decisionUpdated(id: "${decision.id}") { reviewStatus } }` }, { next: () => {}, error: resolve, complete: () => resolve('completed') });
      });
      assert.notEqual(refusal, 'completed', 'a connection without a token is refused');
      await anonymous.dispose();

      const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${app}` } });
      const updates: { reviewStatus: string; state: string | null; finalOutcome: string | null }[] = [];
      const done = new Promise<void>((resolve, reject) => {
        client.subscribe<{ decisionUpdated: (typeof updates)[number] }>(
          { query: 'subscription Updates($id: ID!) { decisionUpdated(id: $id) { decisionId caseId state reviewStatus finalOutcome } }', variables: { id: decision.id } },
          {
            next: (message) => {
              if (message.errors) reject(new Error(JSON.stringify(message.errors)));
              else updates.push(message.data!.decisionUpdated);
            },
            error: reject,
            complete: resolve,
          },
        );
      });
      while (updates.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      await call(CLAIM, { id: caseId }, bob);
      await call(SUBMIT, { input: { caseId, action: 'DECLINE', rationale: 'Unverifiable income source.', reasonCodes: ['RB01'] } }, bob);
      await done;
      await client.dispose();

      assert.deepEqual(updates.map((update) => update.state), ['OPEN', 'CLAIMED', 'DECIDED']);
      assert.deepEqual(updates.at(-1), { decisionId: decision.id, caseId, state: 'DECIDED', reviewStatus: 'COMPLETED', finalOutcome: 'DECLINE' } as never);
    });

    it('ends a subscription when its token expires', async () => {
      const decision = await decisionWith('REFER');
      const shortLived = await gw.issuer.issue({ tenant: 'bank-a', roles: ['application'], subject: 'loan-app', ttlSeconds: 2 });
      const wsUrl = gw.gateway.graphqlUrl.replace('http://', 'ws://');
      const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${shortLived}` } });
      const started = Date.now();
      const received: string[] = [];
      await new Promise<void>((resolve, reject) => {
        client.subscribe<{ decisionUpdated: { reviewStatus: string } }>(
          { query: 'subscription U($id: ID!) { decisionUpdated(id: $id) { reviewStatus } }', variables: { id: decision.id } },
          { next: (message) => received.push(message.data!.decisionUpdated.reviewStatus), error: reject, complete: resolve },
        );
      });
      await client.dispose();
      assert.deepEqual(received, ['PENDING']);
      assert.ok(Date.now() - started < 10_000, 'the subscription ended with the token, not at the test timeout');
    });

    it('holds decide in hold mode', async () => {
      const review = gw.runtime.useCases.get(USE_CASE)!.config.review;
      const original = review.holdSeconds;
      try {
        review.holdSeconds = 10;
        const seen = new Set(((await call<{ reviewQueue: { id: string }[] }>(QUEUE, { filter: { states: ['OPEN'] } }, carol)).reviewQueue).map((item) => item.id));
        // A reviewer works the queue while decide waits.
        let decided: string | undefined;
        const reviewer = (async () => {
          for (let attempt = 0; attempt < 200 && !decided; attempt++) {
            const queue = (await call<{ reviewQueue: { id: string; decisionId: string; state: string }[] }>(QUEUE, { filter: { states: ['OPEN'] } }, carol)).reviewQueue;
            const fresh = queue.find((item) => !seen.has(item.id));
            if (fresh) {
              await call(CLAIM, { id: fresh.id }, carol);
              await call(SUBMIT, { input: { caseId: fresh.id, action: 'APPROVE', rationale: 'Checked while the application waited.' } }, carol);
              decided = fresh.decisionId;
            } else await new Promise((resolve) => setTimeout(resolve, 50));
          }
        })();
        let held: DecisionResult | undefined;
        while (!held) {
          const candidate = await decide({ ...pool.shift()!, credit_amount: 4000 });
          if (candidate.reviewStatus !== 'NOT_REQUIRED') held = candidate;
        }
        await reviewer;
        assert.equal(decided, held.id);
        assert.equal(held.reviewStatus, 'COMPLETED', 'decide waited for the reviewer');
        assert.equal(held.finalOutcome, 'APPROVE');

        review.holdSeconds = 1;
        let timedOut: DecisionResult | undefined;
        while (!timedOut) {
          const started = Date.now();
          const candidate = await decide({ ...pool.shift()!, credit_amount: 4000 });
          if (candidate.reviewStatus !== 'NOT_REQUIRED') {
            timedOut = candidate;
            assert.ok(Date.now() - started >= 900, 'decide waited about the hold time');
          }
        }
        assert.equal(timedOut.reviewStatus, 'PENDING');
      } finally {
        review.holdSeconds = original;
      }
    });

    it('sends signed webhooks for final outcomes, retries failures and logs every attempt', async () => {
      webhookStatus = 500;
      webhooks.length = 0;
      const decision = await decisionWith('REFER');
      const caseId = decision.review!.caseId;
      await call(CLAIM, { id: caseId }, alice);
      await call(SUBMIT, { input: { caseId, action: 'APPROVE', rationale: 'Guarantor confirmed in writing.' } }, alice);

      const dataSource = gw.runtime.database.dataSource;
      const pendingBefore = await dataSource.query("SELECT count(*)::int AS n FROM review.webhook_outbox WHERE status = 'PENDING'");
      assert.ok(pendingBefore[0].n >= 1, 'the outcome is in the outbox before delivery');
      // Deliver everything due now, including outcomes from earlier tests.
      await dataSource.query("UPDATE review.webhook_outbox SET next_attempt_at = now() WHERE status = 'PENDING'");
      await gw.runtime.webhookDispatcher.deliverDue();
      const mine = () => webhooks.filter((hook) => JSON.parse(hook.body).data.caseId === caseId);
      assert.equal(mine().length, 1);
      const [delivery] = (await dataSource.query(
        "SELECT id, status, attempts, next_attempt_at > now() AS later FROM review.webhook_outbox WHERE body->'data'->>'caseId' = $1",
        [caseId],
      )) as { id: string; status: string; attempts: number; later: boolean }[];
      assert.deepEqual({ status: delivery.status, attempts: delivery.attempts, later: delivery.later }, { status: 'PENDING', attempts: 1, later: true });

      webhookStatus = 204;
      await dataSource.query('UPDATE review.webhook_outbox SET next_attempt_at = now() WHERE id = $1', [delivery.id]);
      await gw.runtime.webhookDispatcher.deliverDue();
      assert.equal(mine().length, 2);
      const [done] = await dataSource.query('SELECT status, attempts FROM review.webhook_outbox WHERE id = $1', [delivery.id]);
      assert.deepEqual(done, { status: 'DELIVERED', attempts: 2 });
      const attempts = await dataSource.query('SELECT attempt, http_status FROM review.webhook_attempts WHERE delivery_id = $1 ORDER BY attempt', [delivery.id]);
      assert.deepEqual(attempts, [{ attempt: 1, http_status: 500 }, { attempt: 2, http_status: 204 }]);

      const hook = mine()[1];
      const body = JSON.parse(hook.body);
      assert.equal(hook.headers['warden-delivery'], delivery.id);
      assert.equal(hook.headers['warden-event'], 'decision.reviewed');
      assert.deepEqual({ decisionId: body.data.decisionId, finalOutcome: body.data.finalOutcome, automatic: body.data.automaticOutcome }, {
        decisionId: decision.id,
        finalOutcome: 'APPROVE',
        automatic: 'REFER',
      });
      const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(hook.headers['warden-signature']));
      assert.ok(match, `signature header ${hook.headers['warden-signature']}`);
      const expected = createHmac('sha256', WEBHOOK_SECRET).update(`${match[1]}.${hook.body}`).digest('hex');
      assert.equal(match[2], expected, 'the HMAC verifies with the shared key');
      const forged = createHmac('sha256', 'another-key').update(`${match[1]}.${hook.body}`).digest('hex');
      assert.notEqual(match[2], forged);
    });

    it('exports queue depth, time to decision and review outcomes as metrics', async () => {
      const response = await fetch(`${gw.gateway.url}/metrics`);
      const text = await response.text();
      assert.match(text, /warden_review_queue_depth\{[^}]*use_case="credit-application"[^}]*\} \d+/);
      // The reviewer label is alice's pseudonym, never her subject.
      const labels = await gw.runtime.reviews.reviewerLabelsOf('bank-a');
      const aliceLabel = labels.find((entry) => entry.reviewer === 'alice')?.label ?? '';
      assert.match(aliceLabel, /^[0-9a-f]{16}$/);
      assert.match(text, new RegExp(`warden_review_outcomes_total\\{(?=[^}]*result="referred")(?=[^}]*reviewer="${aliceLabel}")[^}]*\\} \\d+`));
      assert.doesNotMatch(text, /reviewer="alice"/);
      assert.match(text, /warden_review_time_to_decision_seconds_count\{[^}]*use_case="credit-application"[^}]*\} \d+/);
    });

    it('lets an auditor read cases but not work them', async () => {
      const queue = (await call<{ reviewQueue: { id: string }[] }>(QUEUE, {}, auditor)).reviewQueue;
      assert.ok(queue.length > 0);
      assert.equal((await callError(CLAIM, { id: queue[0].id }, auditor)).extensions?.code, 'FORBIDDEN');
      const verification = await verifyLedger(gw.runtime.database.dataSource);
      assert.equal(verification.ok, true);
    });

    it('counts reviews in the export summary', async () => {
      const dataSource = gw.runtime.database.dataSource;
      const summary = await collectUseCaseSummary(dataSource, { useCase: USE_CASE, from: new Date(0), to: new Date(Date.now() + 60_000), tenant: 'bank-a' });
      const [expected] = (await dataSource.query(
        "SELECT count(*)::int AS cases, count(final_outcome)::int AS decided FROM review.cases WHERE tenant = 'bank-a'",
      )) as { cases: number; decided: number }[];
      assert.equal(summary.review?.cases, expected.cases);
      assert.equal(summary.review?.decided, expected.decided);
      assert.ok(expected.decided >= 5, `decided ${expected.decided}`);
      assert.notEqual(summary.review!.medianSeconds, null);
      assert.ok(summary.review!.medianSeconds! >= 0);
      assert.equal(summary.events['use_case.suspended'], 1);
      assert.equal(summary.useCaseEvents.suspensions, 1);
      const other = await collectUseCaseSummary(dataSource, { useCase: 'another-use-case', from: new Date(0), to: new Date(Date.now() + 60_000), tenant: 'bank-a' });
      assert.equal(other.useCaseEvents.suspensions, 0);
    });
  });
}
