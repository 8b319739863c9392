import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseTargets } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { PAYSIM, transaction } from '../support/stream-fixtures.js';

const FEATURES = `query Features($view: String!, $entityKey: String!, $asOf: String) {
  features(view: $view, entityKey: $entityKey, asOf: $asOf) { view viewVersion viewHash entityKey asOf windowEnd values }
}`;

interface FeatureReadResponse {
  features: { view: string; viewVersion: string; viewHash: string; entityKey: string; asOf: string; windowEnd: string; values: Record<string, number | null> };
}

for (const target of await databaseTargets()) {
  describe(`features query on ${target.name}`, { skip: target.skipReason }, () => {
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

    it('rejects a bad time and an unknown view', async () => {
      const badTime = await gw.graphql(FEATURES, { ...variables, asOf: 'soon' }, analyst);
      assert.equal(badTime.body.errors?.[0]?.extensions?.code, 'BAD_USER_INPUT');
      const unknown = await gw.graphql(FEATURES, { ...variables, view: 'no-such-view' }, analyst);
      assert.equal(unknown.body.errors?.[0]?.extensions?.code, 'NOT_FOUND');
      assert.match(unknown.body.errors?.[0]?.message ?? '', /defined views: customer-activity, payee-activity/);
    });
  });
}
