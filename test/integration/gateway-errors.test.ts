import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const GET_DECISION = 'query GetDecision($id: ID!) { decision(id: $id) { id outcome } }';
const DECIDE = 'mutation Decide($input: DecideInput!) { decide(input: $input) { id } }';

/** Text that would show a stack, SQL or a table name if a database error reached the caller. */
const LEAK_PATTERNS = [/\bat .+:\d+:\d+/, /stack/i, /select /i, /insert /i, /relation/i, /decision_records/, /ledger_entries/, /decisions\./, /audit\./, /typeorm/i, /\bpg\b/];

interface GraphqlBody {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** Sends one GraphQL request with a chosen request id and returns the raw text and the echoed id. */
async function post(gw: TestGateway, query: string, variables: Record<string, unknown>, token?: string) {
  const requestId = `leak-test-${randomUUID()}`;
  const response = await fetch(gw.gateway.graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-request-id': requestId,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as GraphqlBody, requestId, echoedId: response.headers.get('x-request-id') };
}

function assertNoLeak(text: string): void {
  for (const pattern of LEAK_PATTERNS) assert.doesNotMatch(text, pattern);
}

function assertInternalError(result: Awaited<ReturnType<typeof post>>): void {
  assert.equal(result.echoedId, result.requestId);
  const [error] = result.body.errors ?? [];
  assert.equal(error?.extensions?.code, 'INTERNAL_SERVER_ERROR');
  assert.deepEqual(Object.keys(error.extensions ?? {}), ['code']);
  assert.ok(error.message.includes(result.requestId), `message "${error.message}" lacks the request id`);
  assertNoLeak(result.text);
}

for (const target of await databaseTargets()) {
  describe(`gateway error responses on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    let applicationToken: string;
    let auditorToken: string;
    let reviewerToken: string;
    before(async () => {
      gw = await startTestGateway(target);
      applicationToken = await gw.token('bank-a', ['application'], 'loan-app');
      auditorToken = await gw.token('bank-a', ['auditor'], 'auditor-1');
      reviewerToken = await gw.token('bank-a', ['reviewer'], 'reviewer-1');
    });
    after(async () => {
      await gw?.close();
    });

    it('client errors carry no stacktrace', async () => {
      const cases: [string, string, Record<string, unknown>, string | undefined, string][] = [
        ['parse failure', 'query {', {}, undefined, 'GRAPHQL_PARSE_FAILED'],
        ['unknown field', '{ nope }', {}, undefined, 'GRAPHQL_VALIDATION_FAILED'],
        ['bad variable', GET_DECISION, { id: 42.5 }, auditorToken, 'BAD_USER_INPUT'],
        ['no token', GET_DECISION, { id: randomUUID() }, undefined, 'UNAUTHENTICATED'],
        ['forbidden', DECIDE, { input: { useCase: 'credit-application', application: {} } }, reviewerToken, 'FORBIDDEN'],
        ['invalid id', GET_DECISION, { id: 'not-a-uuid' }, auditorToken, 'BAD_USER_INPUT'],
        ['missing decision', GET_DECISION, { id: randomUUID() }, auditorToken, 'NOT_FOUND'],
        ['invalid application', DECIDE, { input: { useCase: 'credit-application', application: { age_years: 5 } } }, applicationToken, 'BAD_USER_INPUT'],
      ];
      for (const [name, query, variables, token, code] of cases) {
        const result = await post(gw, query, variables, token);
        const [error] = result.body.errors ?? [];
        assert.equal(error?.extensions?.code, code, name);
        assert.equal(result.text.includes('stacktrace'), false, `${name}: ${result.text}`);
        assertNoLeak(result.text);
      }
    });

    it('protocol errors mask personal data', async () => {
      const iban = 'DE89370400440532013000';
      const cases: [string, string, Record<string, unknown>, string][] = [
        ['bad variable', GET_DECISION, { id: { iban } }, 'BAD_USER_INPUT'],
        ['wrong scalar', 'query($limit: Int!) { checkpoints(limit: $limit) { id } }', { limit: iban }, 'BAD_USER_INPUT'],
        ['unknown field', `{ decision(id: "x") { ${iban} } }`, {}, 'GRAPHQL_VALIDATION_FAILED'],
      ];
      for (const [name, query, variables, code] of cases) {
        const result = await post(gw, query, variables, auditorToken);
        const [error] = result.body.errors ?? [];
        assert.equal(error?.extensions?.code, code, name);
        assert.equal(result.text.includes(iban), false, `${name}: ${result.text}`);
        assert.match(error.message, /\[IBAN\]/, name);
      }
    });

    it('malformed JSON body is a 400', async () => {
      const response = await fetch(gw.gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"query": "{ __typename }"',
      });
      assert.equal(response.status, 400);
      assertNoLeak(await response.text());
    });

    it('wrong method is a 405 with Allow', async () => {
      const response = await fetch(gw.gateway.graphqlUrl, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(response.status, 405);
      assert.equal(response.headers.get('allow'), 'GET, POST');
      await response.body?.cancel();
    });

    it('rejects too many root fields', async () => {
      const aliases = Array.from({ length: 11 }, (_, i) => `a${i}: decision(id: "${randomUUID()}") { id }`).join(' ');
      const result = await post(gw, `{ ${aliases} }`, {}, auditorToken);
      assert.equal(result.body.errors?.[0]?.extensions?.code, 'GRAPHQL_VALIDATION_FAILED');
      assert.match(result.body.errors?.[0]?.message ?? '', /selects 11 root fields; at most 10 are allowed/);
      assertNoLeak(result.text);
    });

    it('stops parsing an oversized query', async () => {
      const aliases = Array.from({ length: 20_000 }, (_, i) => `a${i}: __typename`).join(' ');
      const result = await post(gw, `{ ${aliases} }`, {});
      assert.equal(result.body.errors?.[0]?.extensions?.code, 'GRAPHQL_PARSE_FAILED');
      // graphql-js 16.15 spells this message "more that 2000 tokens".
      assert.match(result.body.errors?.[0]?.message ?? '', /Document contains more th\w+ 2000 tokens\. Parsing aborted\./);
    });

    // The tests below break the database on purpose, so they run last in this suite.
    it('missing decisions table is an internal error', async () => {
      await gw.runtime.database.dataSource.query('DROP TABLE decisions.decision_records CASCADE');
      const read = await post(gw, GET_DECISION, { id: randomUUID() }, auditorToken);
      assertInternalError(read);
      assert.equal(read.body.data, null);
    });

    it('unrecordable denial is still forbidden', async () => {
      await gw.runtime.database.dataSource.query('DROP TABLE audit.ledger_entries CASCADE');
      const denied = await post(gw, DECIDE, { input: { useCase: 'credit-application', application: {} } }, reviewerToken);
      assert.equal(denied.body.errors?.[0]?.extensions?.code, 'FORBIDDEN');
      assert.equal(denied.body.data, null);
      assertNoLeak(denied.text);
    });
  });
}
