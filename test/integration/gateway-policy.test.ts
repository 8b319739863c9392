import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import 'reflect-metadata';
import { RESOLVER_NAME_METADATA, RESOLVER_TYPE_METADATA } from '@nestjs/graphql';
import { AppModule } from '../../apps/gateway/src/app.module.js';
import { REQUIRES_KEY, type RequiredPermission } from '../../apps/gateway/src/auth/requires.decorator.js';
import { TokenIssuer } from '../../libs/policy/src/index.js';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const DECIDE = 'mutation Decide($input: DecideInput!) { decide(input: $input) { id } }';
const INGEST = 'mutation Ingest($records: [JSONObject!]!) { ingestRecords(dataset: "german-credit", records: $records) { accepted } }';
const ROOT_FIELDS = '{ __schema { queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } } } }';

/** An application that never reaches validation: every call here stops at the policy guard. */
const DECIDE_VARIABLES = { input: { useCase: 'credit-application', application: { duration_months: 12 } } };

interface AccessDeniedRow {
  tenant: string;
  actor: string;
  payload: { operation: string; resource: string; action: string; roles: string[] };
}

type Handler = (...args: unknown[]) => unknown;

/** Every Query and Mutation handler of the gateway's resolver classes, by GraphQL root type and field name. */
function resolverHandlers(gateway: TestGateway): Map<string, Handler> {
  const handlers = new Map<string, Handler>();
  const providers = AppModule.forRuntime(gateway.runtime).providers ?? [];
  for (const provider of providers) {
    if (typeof provider !== 'function') continue;
    const prototype = provider.prototype as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[key];
      if (key === 'constructor' || typeof handler !== 'function') continue;
      const rootType = Reflect.getMetadata(RESOLVER_TYPE_METADATA, handler) as string | undefined;
      if (rootType !== 'Query' && rootType !== 'Mutation' && rootType !== 'Subscription') continue;
      const fieldName = (Reflect.getMetadata(RESOLVER_NAME_METADATA, handler) as string | undefined) ?? key;
      handlers.set(`${rootType}.${fieldName}`, handler as Handler);
    }
  }
  return handlers;
}

for (const target of await databaseTargets()) {
  describe(`gateway policy on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    before(async () => {
      gw = await startTestGateway(target);
    });
    after(async () => {
      await gw?.close();
    });

    async function decideWith(authorization: string | undefined) {
      const response = await fetch(gw.gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) },
        body: JSON.stringify({ query: DECIDE, variables: DECIDE_VARIABLES }),
      });
      return (await response.json()) as { data: unknown; errors?: { message: string; extensions?: { code?: string } }[] };
    }

    async function accessDenials(tenant: string, actor: string): Promise<AccessDeniedRow[]> {
      return gw.runtime.database.dataSource.query(
        "SELECT tenant, actor, payload FROM audit.ledger_entries WHERE type = 'access.denied' AND tenant = $1 AND actor = $2 ORDER BY seq",
        [tenant, actor],
      );
    }

    it('rejects a request without a token', async () => {
      const body = await decideWith(undefined);
      assert.equal(body.errors?.[0].extensions?.code, 'UNAUTHENTICATED');
      assert.equal(body.data, null);
    });

    it('rejects a non-bearer authorization', async () => {
      const token = await gw.token('bank-a', ['application']);
      const body = await decideWith(`Basic ${token}`);
      assert.equal(body.errors?.[0].extensions?.code, 'UNAUTHENTICATED');
    });

    it('rejects a malformed token', async () => {
      for (const token of ['not-a-jwt', 'a.b.c', 'eyJhbGciOiJub25lIn0.e30.']) {
        const body = await decideWith(`Bearer ${token}`);
        assert.equal(body.errors?.[0].extensions?.code, 'UNAUTHENTICATED', token);
      }
    });

    it('rejects an expired token', async () => {
      const issuedAt = new Date(Date.now() - 2 * 60 * 60 * 1000);
      const token = await gw.issuer.issue({ tenant: 'bank-a', roles: ['application'], subject: 'app', issuedAt, ttlSeconds: 60 });
      const body = await decideWith(`Bearer ${token}`);
      assert.equal(body.errors?.[0].extensions?.code, 'UNAUTHENTICATED');
      assert.match(body.errors?.[0].message ?? '', /expired/);
    });

    it('rejects a token for another audience', async () => {
      const config = gw.runtime.config;
      const issuer = await TokenIssuer.open({ ...config, jwtAudience: `${config.jwtAudience}-other` });
      const token = await issuer.issue({ tenant: 'bank-a', roles: ['application'], subject: 'app' });
      const body = await decideWith(`Bearer ${token}`);
      assert.equal(body.errors?.[0].extensions?.code, 'UNAUTHENTICATED');
      assert.match(body.errors?.[0].message ?? '', /audience/);
    });

    it('rejects a token signed by another key', async () => {
      const otherDir = mkdtempSync(join(tmpdir(), 'warden-other-key-'));
      try {
        const issuer = await TokenIssuer.open({ ...gw.runtime.config, dataDir: otherDir });
        const token = await issuer.issue({ tenant: 'bank-a', roles: ['application'], subject: 'app' });
        const body = await decideWith(`Bearer ${token}`);
        assert.equal(body.errors?.[0].extensions?.code, 'UNAUTHENTICATED');
      } finally {
        rmSync(otherDir, { recursive: true, force: true });
      }
    });

    it('unauthenticated calls leave no ledger entry', async () => {
      const rows: { n: number }[] = await gw.runtime.database.dataSource.query('SELECT count(*)::int AS n FROM audit.ledger_entries');
      assert.equal(rows[0].n, 0);
    });

    it('reviewer decide is forbidden and recorded', async () => {
      const token = await gw.token('bank-a', ['reviewer'], 'reviewer-7');
      const response = await gw.graphql(DECIDE, DECIDE_VARIABLES, token);
      assert.equal(response.body.errors?.[0].extensions?.code, 'FORBIDDEN');
      assert.equal(response.body.data, null);

      const denials = await accessDenials('bank-a', 'reviewer-7');
      assert.equal(denials.length, 1);
      assert.equal(denials[0].payload.resource, 'decision');
      assert.equal(denials[0].payload.action, 'create');
      assert.equal(denials[0].payload.operation, 'DecisionResolver.decide');
      assert.deepEqual(denials[0].payload.roles, ['reviewer']);
    });

    it('application ingest is forbidden and recorded', async () => {
      const token = await gw.token('bank-c', ['application'], 'loan-app-9');
      const response = await gw.graphql(INGEST, { records: [{ application_id: 'X-1' }] }, token);
      assert.equal(response.body.errors?.[0].extensions?.code, 'FORBIDDEN');

      const denials = await accessDenials('bank-c', 'loan-app-9');
      assert.equal(denials.length, 1);
      assert.equal(denials[0].payload.resource, 'dataset');
      assert.equal(denials[0].payload.action, 'ingest');
      const datasetRows: { n: number }[] = await gw.runtime.database.dataSource.query(
        "SELECT count(*)::int AS n FROM audit.ledger_entries WHERE tenant = 'bank-c' AND type <> 'access.denied'",
      );
      assert.equal(datasetRows[0].n, 0);
    });

    it('every root field requires a permission', async () => {
      const response = await gw.graphql<{
        __schema: { queryType: { fields: { name: string }[] }; mutationType: { fields: { name: string }[] }; subscriptionType: { fields: { name: string }[] } };
      }>(ROOT_FIELDS);
      const schema = response.body.data!.__schema;
      const rootFields = [
        ...schema.queryType.fields.map((field) => `Query.${field.name}`),
        ...schema.mutationType.fields.map((field) => `Mutation.${field.name}`),
        ...schema.subscriptionType.fields.map((field) => `Subscription.${field.name}`),
      ].sort();
      assert.deepEqual(rootFields, [
        'Mutation.ask',
        'Mutation.claimCase',
        'Mutation.createCheckpoint',
        'Mutation.decide',
        'Mutation.ingestDocument',
        'Mutation.ingestRecords',
        'Mutation.releaseCase',
        'Mutation.resumeUseCase',
        'Mutation.revealCaseField',
        'Mutation.submitReview',
        'Mutation.suspendUseCase',
        'Query.answer',
        'Query.checkInjection',
        'Query.checkpointKeys',
        'Query.checkpoints',
        'Query.consistencyProof',
        'Query.decision',
        'Query.features',
        'Query.inclusionProof',
        'Query.llmUsage',
        'Query.replayDecision',
        'Query.reviewCase',
        'Query.reviewQueue',
        'Query.reviewReasonCodes',
        'Query.scanText',
        'Query.search',
        'Query.useCaseStatus',
        'Query.whoami',
        'Subscription.decisionUpdated',
      ]);

      const handlers = resolverHandlers(gw);
      assert.deepEqual([...handlers.keys()].sort(), rootFields);
      for (const field of rootFields) {
        const required = Reflect.getMetadata(REQUIRES_KEY, handlers.get(field)!) as RequiredPermission | undefined;
        assert.ok(required, `${field} has no @Requires`);
        assert.ok(required.resource.length > 0, `${field} declares an empty resource`);
        assert.ok(required.action.length > 0, `${field} declares an empty action`);
      }
    });
  });
}
