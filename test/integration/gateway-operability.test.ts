import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WARDEN_VERSION } from '../../libs/common/src/index.js';
import { runDemoSetup } from '../../libs/decisions/src/index.js';
import { generateGermanCredit } from '../../libs/ingestion/src/index.js';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const DECIDE = 'mutation Decide($input: DecideInput!) { decide(input: $input) { id outcome } }';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EXCLUDED_AND_LABEL = ['application_id', 'credit_risk', 'personal_status_sex', 'foreign_worker'];

/** Value of one Prometheus sample whose name and labels all match, or undefined when absent. */
function sampleValue(exposition: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const matches = Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
    if (matches) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

for (const target of await databaseTargets()) {
  describe(`gateway operability on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    let appToken: string;
    before(async () => {
      gw = await startTestGateway(target);
      await runDemoSetup(gw.runtime, { tenant: 'bank-a', actor: 'test-setup' });
      appToken = await gw.token('bank-a', ['application'], 'loan-app');
    });
    after(async () => {
      await gw?.close();
    });

    it('healthz is 200', async () => {
      const response = await fetch(`${gw.gateway.url}/healthz`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ok' });
    });

    it('readyz names the database mode', async () => {
      const response = await fetch(`${gw.gateway.url}/readyz`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ready', database: target.name });
    });

    it('metrics count decisions and operations', async () => {
      const application = Object.fromEntries(
        Object.entries(generateGermanCredit({ rows: 1, seed: 11 })[0]).filter(([name]) => !EXCLUDED_AND_LABEL.includes(name)),
      );
      // The demo setup's own decisions are counted too, so the test compares counts before and after.
      const before = await (await fetch(`${gw.gateway.url}/metrics`)).text();
      const decided = await gw.graphql<{ decide: { id: string; outcome: string } }>(DECIDE, { input: { useCase: 'credit-application', application } }, appToken);
      assert.equal(decided.body.errors, undefined, JSON.stringify(decided.body.errors));
      const { outcome } = decided.body.data!.decide;

      const response = await fetch(`${gw.gateway.url}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      const exposition = await response.text();
      assert.match(exposition, /^# HELP warden_decisions_total /m);
      assert.match(exposition, /^# TYPE warden_decisions_total counter$/m);
      const targetInfo = exposition.split('\n').find((line) => line.startsWith('target_info{')) ?? '';
      assert.ok(targetInfo.includes('service_name="warden"'), targetInfo);
      assert.ok(targetInfo.includes(`service_version="${WARDEN_VERSION}"`), targetInfo);
      const decisions = { use_case: 'credit-application', outcome };
      const durations = { use_case: 'credit-application' };
      const count = (text: string, name: string, labels: Record<string, string>) => sampleValue(text, name, labels) ?? 0;
      assert.equal(count(exposition, 'warden_decisions_total', decisions) - count(before, 'warden_decisions_total', decisions), 1);
      assert.equal(sampleValue(exposition, 'warden_graphql_requests_total', { operation: 'decide', result: 'ok' }), 1);
      assert.equal(count(exposition, 'warden_decision_duration_seconds_count', durations) - count(before, 'warden_decision_duration_seconds_count', durations), 1);
    });

    it('metrics name no reviewer', async () => {
      // /metrics needs no token, and a token subject is often an email address.
      const subject = 'jane.reviewer@bank-a.example';
      const reviewer = await gw.token('bank-a', ['reviewer'], subject);
      const queue = await gw.graphql<{ reviewQueue: { id: string; fourEyes: boolean }[] }>(
        '{ reviewQueue(filter: { useCase: "credit-application", states: [OPEN] }) { id fourEyes } }',
        undefined,
        reviewer,
      );
      assert.equal(queue.body.errors, undefined, JSON.stringify(queue.body.errors));
      const caseId = queue.body.data!.reviewQueue.find((reviewCase) => !reviewCase.fourEyes)?.id;
      assert.ok(caseId, 'the demo setup opened no single-review case');
      const claimed = await gw.graphql('mutation($id: ID!) { claimCase(id: $id) { state } }', { id: caseId }, reviewer);
      assert.equal(claimed.body.errors, undefined, JSON.stringify(claimed.body.errors));
      const submitted = await gw.graphql<{ submitReview: { state: string } }>(
        'mutation($input: SubmitReviewInput!) { submitReview(input: $input) { state } }',
        { input: { caseId, action: 'APPROVE', rationale: 'Income covers the instalments.' } },
        reviewer,
      );
      assert.equal(submitted.body.data?.submitReview.state, 'DECIDED', JSON.stringify(submitted.body.errors));

      const exposition = await (await fetch(`${gw.gateway.url}/metrics`)).text();
      assert.equal(exposition.includes(subject), false, 'a metric names the reviewer');
      const labels = await gw.runtime.reviews.reviewerLabelsOf('bank-a');
      const label = labels.find((entry) => entry.reviewer === subject)?.label;
      assert.match(label ?? '', /^[0-9a-f]{16}$/);
      assert.equal(sampleValue(exposition, 'warden_review_outcomes_total', { reviewer: label! }), 1);
    });

    it('metrics ignore caller operation names', async () => {
      for (let i = 0; i < 5; i++) await gw.graphql(`query Probe${i} { __typename }`);
      const exposition = await (await fetch(`${gw.gateway.url}/metrics`)).text();
      assert.doesNotMatch(exposition, /Probe\d/);
      assert.equal(sampleValue(exposition, 'warden_graphql_requests_total', { operation: '__typename', result: 'ok' }), 5);
    });

    it('responses carry a generated request id', async () => {
      const response = await fetch(`${gw.gateway.url}/healthz`);
      assert.match(response.headers.get('x-request-id') ?? '', UUID);
      await response.body?.cancel();
    });

    it('echoes a valid caller request id', async () => {
      const response = await fetch(gw.gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'bank-a.req_0042' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      assert.equal(response.headers.get('x-request-id'), 'bank-a.req_0042');
      await response.body?.cancel();
    });

    it('replaces an invalid caller request id', async () => {
      for (const supplied of ['has space', 'x'.repeat(65), 'semi;colon']) {
        const response = await fetch(`${gw.gateway.url}/healthz`, { headers: { 'x-request-id': supplied } });
        assert.match(response.headers.get('x-request-id') ?? '', UUID, supplied);
        await response.body?.cancel();
      }
    });

    it('keeps personal data out of request ids', async () => {
      // A denied call writes its request id into an access.denied ledger entry, which cannot be erased.
      const reviewer = await gw.token('bank-a', ['reviewer'], 'request-id-reviewer');
      const personal = ['DE89370400440532013000', '4111111111111111', 'txn_4111111111111111', 'iban_DE89370400440532013000'];
      for (const supplied of personal) {
        const response = await fetch(gw.gateway.graphqlUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': supplied, authorization: `Bearer ${reviewer}` },
          body: JSON.stringify({ query: '{ decision(id: "00000000-0000-4000-8000-000000000000") { id } }' }),
        });
        assert.match(response.headers.get('x-request-id') ?? '', UUID, supplied);
        await response.body?.cancel();
      }
      const denials: { request_id: string | null }[] = await gw.runtime.database.dataSource.query(
        "SELECT payload->>'requestId' AS request_id FROM audit.ledger_entries WHERE type = 'access.denied' AND actor = 'request-id-reviewer'",
      );
      assert.equal(denials.length, personal.length);
      for (const denial of denials) assert.match(denial.request_id ?? '', UUID);
    });

    it('keeps a request id with a date', async () => {
      const response = await fetch(`${gw.gateway.url}/healthz`, { headers: { 'x-request-id': '20261205-0001' } });
      assert.equal(response.headers.get('x-request-id'), '20261205-0001');
      await response.body?.cancel();
    });

    it('keeps common request id formats', async () => {
      const kept = [
        '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
        '01ARZ3NDEKTSV4RRFFQ69G5FAV',
        'order-20261205-000123',
        'order_20261205_000123',
        '2026-12-05T10.15.00Z',
        '4bf92f3577b34da6a3ce929d0e0e4736',
        '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      ];
      for (const supplied of kept) {
        const response = await fetch(`${gw.gateway.url}/healthz`, { headers: { 'x-request-id': supplied } });
        assert.equal(response.headers.get('x-request-id'), supplied);
        await response.body?.cancel();
      }
    });
  });
}
