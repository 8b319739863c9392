import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntime, runFraudDemoSetup, type FraudDemoResult, type WardenRuntime } from '../../libs/decisions/src/index.js';
import { databaseTargets, type TestDatabase } from '../support/databases.js';

for (const target of await databaseTargets()) {
  describe(`payment-fraud demo on ${target.name}`, { skip: target.skipReason }, () => {
    let db: TestDatabase;
    let runtime: WardenRuntime;
    let first: FraudDemoResult | undefined;

    before(async () => {
      db = await target.open();
      await db.database.close();
      runtime = await createRuntime(db.config);
      first = await runFraudDemoSetup(runtime, { tenant: 'demo-bank', actor: 'setup' });
    });

    after(async () => {
      await runtime?.close();
      await db?.cleanup();
    });

    it('trains on the synthetic stream', async () => {
      assert.equal(first?.created, true);
      const model = await runtime.models.latest('payment-fraud', 'demo-bank');
      assert.equal(model.version, first?.modelVersion);
      console.log(`payment-fraud demo model on ${target.name}: holdout AUC ${model.metrics.auc.toFixed(4)}, ${model.metrics.holdoutRows} holdout rows`);
      assert.ok(model.metrics.auc > 0.9, `holdout AUC ${model.metrics.auc}`);
      const stored: { n: number }[] = await runtime.database.dataSource.query("SELECT count(*)::int AS n FROM ingestion.records WHERE tenant = 'demo-bank' AND dataset = 'paysim-transactions'");
      assert.equal(stored[0].n, 6000);
    });

    it('opens fraud review cases', () => {
      assert.ok((first?.reviewCases ?? 0) > 0, `review cases ${first?.reviewCases}`);
    });

    it('reuses the model on restart', async () => {
      const again = await runFraudDemoSetup(runtime, { tenant: 'demo-bank', actor: 'setup' });
      assert.equal(again?.created, false);
      assert.equal(again?.modelVersion, first?.modelVersion);
    });
  });
}
