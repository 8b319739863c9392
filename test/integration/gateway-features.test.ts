import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runFraudDemoSetup } from '../../libs/decisions/src/index.js';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { PAYSIM, transaction } from '../support/stream-fixtures.js';

const FEATURES = `query Features($view: String!, $entityKey: String!, $asOf: String) {
  features(view: $view, entityKey: $entityKey, asOf: $asOf) { view viewVersion viewHash entityKey asOf windowEnd values }
}`;

const DECIDE = `mutation Decide($input: DecideInput!) {
  decide(input: $input) {
    id outcome score reviewStatus reasonCodes { code description }
    lineage { inputDigest featureValues requestValues featureReads { view viewVersion viewHash entityKey asOf windowEnd values } }
  }
}`;
const REPLAY = 'query Replay($id: ID!) { replayDecision(id: $id) { identical differences { field } } }';

interface DecideResponse {
  decide: {
    id: string;
    outcome: string;
    score: number;
    reviewStatus: string;
    lineage: { featureValues: Record<string, unknown>; requestValues: Record<string, unknown>; featureReads: FeatureReadResponse['features'][] };
  };
}

interface FeatureReadResponse {
  features: { view: string; viewVersion: string; viewHash: string; entityKey: string; asOf: string; windowEnd: string; values: Record<string, number | null> };
}

for (const target of await databaseTargets()) {
  describe(`features query and fraud decide on ${target.name}`, { skip: target.skipReason }, () => {
    let gw: TestGateway;
    let analyst: string;
    const variables = { view: 'payee-activity', entityKey: 'PAYEE-1', asOf: '2026-02-01T05:30:00Z' };

    before(async () => {
      gw = await startTestGateway(target);
      await gw.runtime.ingestion.registerDatasets();
      await gw.runtime.features.registerViews();
      const records = [
        transaction('GF-1', '2026-02-01T03:10:00Z', 'PAYEE-1', 'PAYER-1', 100),
        transaction('GF-2', '2026-02-01T04:20:00Z', 'PAYEE-1', 'PAYER-2', 300),
        // In the as-of hour bucket, so not yet counted.
        transaction('GF-3', '2026-02-01T05:10:00Z', 'PAYEE-1', 'PAYER-3', 900),
      ];
      const stored = await gw.runtime.ingestion.ingest({ tenant: 'bank-a', actor: 'test', dataset: PAYSIM, records, source: 'api' });
      assert.equal(stored.accepted, 3);
      analyst = await gw.token('bank-a', ['analyst'], 'analyst-1');
    });

    after(async () => {
      await gw?.close();
    });

    it('reads online features with the view version', async () => {
      const response = await gw.graphql<FeatureReadResponse>(FEATURES, variables, analyst);
      assert.equal(response.body.errors, undefined);
      const read = response.body.data!.features;
      assert.equal(read.viewVersion, '1');
      assert.equal(read.viewHash, gw.runtime.features.getView('payee-activity').definitionHash);
      assert.equal(read.windowEnd, '2026-02-01T05:00:00.000Z');
      assert.equal(read.values.tx_count_24h, 2);
      assert.equal(read.values.amount_sum_24h, 400);
      assert.equal(read.values.sender_distinct_24h, 2);
    });

    it('shows nothing of another tenant', async () => {
      const other = await gw.token('bank-b', ['analyst'], 'analyst-b');
      const response = await gw.graphql<FeatureReadResponse>(FEATURES, variables, other);
      assert.equal(response.body.data!.features.values.tx_count_24h, 0);
      assert.equal(response.body.data!.features.values.amount_sum_24h, 0);
    });

    it('forbids roles without feature read', async () => {
      for (const role of ['application', 'reviewer']) {
        const response = await gw.graphql(FEATURES, variables, await gw.token('bank-a', [role]));
        assert.equal(response.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', role);
      }
    });

    it('decides a payment with its feature reads', async () => {
      await runFraudDemoSetup(gw.runtime, { tenant: 'demo-bank', actor: 'setup' });
      const application = {
        event_time: '2026-01-03T02:30:00Z',
        type: 'TRANSFER',
        amount: 250000,
        old_balance_orig: 250000,
        old_balance_dest: 0,
        name_orig: 'C123',
        name_dest: 'C900000000',
      };
      const token = await gw.token('demo-bank', ['application'], 'payments-app');
      const response = await gw.graphql<DecideResponse>(DECIDE, { input: { useCase: 'payment-fraud', application } }, token);
      assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
      const decision = response.body.data!.decide;
      assert.deepEqual(
        decision.lineage.featureReads.map((read) => `${read.view}@${read.viewVersion}`),
        ['customer-activity@1', 'payee-activity@1'],
      );
      assert.equal(decision.lineage.featureReads[1].entityKey, 'C900000000');
      assert.equal(decision.lineage.featureReads[1].windowEnd, '2026-01-03T02:00:00.000Z');
      assert.equal(decision.lineage.requestValues.amount, 250000);
      assert.equal(decision.lineage.featureValues.balance_share, 1);

      const auditor = await gw.token('demo-bank', ['auditor'], 'auditor-1');
      const replay = await gw.graphql<{ replayDecision: { identical: boolean; differences: { field: string }[] } }>(REPLAY, { id: decision.id }, auditor);
      assert.deepEqual(replay.body.data!.replayDecision.differences, []);
      assert.equal(replay.body.data!.replayDecision.identical, true);
    });

    it('rejects a bad time and an unknown view', async () => {
      const badTime = await gw.graphql(FEATURES, { ...variables, asOf: 'soon' }, analyst);
      assert.equal(badTime.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
      for (const asOf of ['2026-02-30T01:00:00Z', '0000-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '9999-12-31T00:00:00Z']) {
        const rejected = await gw.graphql(FEATURES, { ...variables, asOf }, analyst);
        assert.equal(rejected.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT', `${asOf}: ${JSON.stringify(rejected.body.errors)}`);
      }
      const controlKey = await gw.graphql(FEATURES, { ...variables, entityKey: 'PAYEE\u00001' }, analyst);
      assert.equal(controlKey.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
      const unknown = await gw.graphql(FEATURES, { ...variables, view: 'no-such-view' }, analyst);
      assert.equal(unknown.body.errors?.[0]?.extensions?.code, 'NOT_FOUND');
      assert.match(unknown.body.errors?.[0]?.message ?? '', /defined views: customer-activity, payee-activity/);
    });
  });
}
