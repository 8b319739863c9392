import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExportEvidence, exportBundle, verifyBundle, verifyLedger } from '../../libs/audit/src/index.js';
import { parseFile, validateSourceRows } from '../../libs/ingestion/src/index.js';
import { rocAuc } from '../../libs/models/src/index.js';
import { extractText, getDocumentProxy } from 'unpdf';
import { databaseTargets, sharedDataPath } from '../support/databases.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const german = sharedDataPath('tabular/german_credit_statlog/german.data');
const TENANT = 'e2e-bank';
const DECIDE = `mutation Decide($input: DecideInput!) {
  decide(input: $input) { id outcome score reasonCodes { code contribution } ledgerSeq ledgerHash }
}`;
const INGEST = `mutation Ingest($records: [JSONObject!]!) {
  ingestRecords(dataset: "german-credit", records: $records) { accepted quarantined duplicates }
}`;

/** Runs `work` over `items` with at most `concurrency` calls in flight, keeping the input order. */
async function mapConcurrent<T, R>(items: T[], concurrency: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  });
  await Promise.all(workers);
  return results;
}

for (const target of await databaseTargets()) {
  describe(`German Credit end to end on ${target.name}`, { skip: target.skipReason ?? german.skipReason }, () => {
    let warden: TestGateway;
    let applications: { key: string; bad: boolean; application: Record<string, unknown> }[];
    let decisions: { id: string; outcome: string; score: number; ledgerSeq: number }[];
    const bundleDir = mkdtempSync(join(tmpdir(), 'warden-e2e-bundle-'));

    before(async () => {
      warden = await startTestGateway(target);
    });
    after(async () => {
      await warden?.close();
      rmSync(bundleDir, { recursive: true, force: true });
    });

    it('ingests all 1,000 applications over GraphQL', async () => {
      const definition = warden.runtime.ingestion.getDefinition('german-credit');
      const parsed = parseFile(german.path, definition);
      const validated = validateSourceRows(definition, parsed.rows);
      const records = validated.map((row) => {
        assert.ok(row.ok, `row ${row.row} of german.data should be valid`);
        return row.record;
      });
      applications = records.map((record) => {
        const { application_id, credit_risk, ...application } = record as Record<string, unknown>;
        return { key: String(application_id), bad: credit_risk === 2, application };
      });

      const analyst = await warden.token(TENANT, ['analyst']);
      const first = await warden.graphql<{ ingestRecords: { accepted: number; quarantined: number; duplicates: number } }>(INGEST, { records }, analyst);
      assert.deepEqual(first.body.errors, undefined);
      assert.deepEqual(first.body.data?.ingestRecords, { accepted: 1000, quarantined: 0, duplicates: 0 });

      const again = await warden.graphql<{ ingestRecords: { accepted: number; duplicates: number } }>(INGEST, { records }, analyst);
      assert.equal(again.body.data?.ingestRecords.accepted, 0);
      assert.equal(again.body.data?.ingestRecords.duplicates, 1000);
    });

    it('trains and registers the ONNX scorecard', async () => {
      const summary = await warden.runtime.training.train({ useCase: 'credit-application', tenant: TENANT, actor: 'e2e-analyst' });
      assert.equal(summary.version, 'credit-application@1');
      assert.equal(summary.rowCount, 1000);
      assert.ok(summary.metrics.auc > 0.7, `holdout AUC ${summary.metrics.auc} should exceed 0.7`);
      assert.ok(summary.onnxMaxDeviation <= 1e-9);
      assert.ok(!summary.features.includes('personal_status_sex'), 'a prohibited basis must not be a feature');
    });

    it('decides all 1,000 applications over GraphQL', async () => {
      const token = await warden.token(TENANT, ['application'], 'loan-origination');
      decisions = await mapConcurrent(applications, 8, async ({ key, application }) => {
        const response = await warden.graphql<{ decide: { id: string; outcome: string; score: number; ledgerSeq: number } }>(
          DECIDE,
          { input: { useCase: 'credit-application', application, requestId: key } },
          token,
        );
        assert.equal(response.body.errors, undefined, JSON.stringify(response.body.errors));
        return response.body.data!.decide;
      });

      assert.equal(new Set(decisions.map((d) => d.id)).size, 1000);
      assert.equal(new Set(decisions.map((d) => d.ledgerSeq)).size, 1000);
      const outcomes = new Map<string, number>();
      for (const decision of decisions) outcomes.set(decision.outcome, (outcomes.get(decision.outcome) ?? 0) + 1);
      for (const outcome of ['APPROVE', 'DECLINE', 'REFER']) assert.ok((outcomes.get(outcome) ?? 0) > 0, `expected some ${outcome}`);

      // The scores rank the real outcomes: in-sample AUC over all 1,000 labelled applications.
      const auc = rocAuc(decisions.map((d) => d.score), applications.map((a) => a.bad));
      assert.ok(auc > 0.75, `decision scores should rank defaults, AUC ${auc}`);
    });

    it('replays sampled decisions identically', async () => {
      for (const decision of decisions.filter((_, index) => index % 100 === 0)) {
        const report = await warden.runtime.decisions.replay(undefined, decision.id);
        assert.equal(report.identical, true, JSON.stringify(report.differences));
      }
    });

    it('verifies the ledger chain', async () => {
      const result = await verifyLedger(warden.runtime.database.dataSource);
      assert.equal(result.ok, true, result.reason);
      // 1 ingestion batch + 1 duplicate-only batch + 1 model registration + 1,000 decisions.
      assert.equal(result.entries, 1003);
    });

    it('exports a bundle that verifies and catches a changed byte', async () => {
      const { manifest } = await exportBundle(warden.runtime.database.dataSource, {
        useCase: 'credit-application',
        from: new Date('2000-01-01T00:00:00Z'),
        to: new Date('2100-01-01T00:00:00Z'),
        outDir: bundleDir,
        tenant: TENANT,
        wardenVersion: 'e2e',
      }, createExportEvidence(warden.runtime.checkpoints, warden.runtime.merkle, warden.runtime.checkpointKeys, 'e2e-auditor'));
      assert.equal(manifest.counts.decisions, 1000);
      assert.equal(manifest.counts.ledgerEntries, 1000);
      assert.ok(manifest.checkpoint.treeSize >= 1003, 'the checkpoint covers every decision');
      assert.deepEqual(await verifyBundle(bundleDir), { ok: true, problems: [] });

      const summary = await extractText(await getDocumentProxy(new Uint8Array(readFileSync(join(bundleDir, 'summary.pdf')))), { mergePages: true });
      assert.ok(summary.text.includes('Decisions: 1000'), summary.text);
      assert.ok(summary.text.includes('Hash chain verified'), summary.text);

      const decisionsFile = join(bundleDir, 'decisions.jsonl');
      const bytes = readFileSync(decisionsFile);
      bytes[Math.floor(bytes.length / 2)] ^= 0x01;
      writeFileSync(decisionsFile, bytes);
      const tampered = await verifyBundle(bundleDir);
      assert.equal(tampered.ok, false);
      assert.ok(tampered.problems.some((problem) => problem.includes('decisions.jsonl')), tampered.problems.join('\n'));
    });

    it('reviews a REFER to a final outcome', async () => {
      const refer = decisions.find((decision) => decision.outcome === 'REFER')!;
      const app = await warden.token(TENANT, ['application'], 'loan-origination');
      const reviewer = await warden.token(TENANT, ['reviewer'], 'credit-officer-1');
      const before = await warden.graphql<{ decision: { reviewStatus: string; review: { caseId: string; reasons: string[] } } }>(
        'query D($id: ID!) { decision(id: $id) { reviewStatus review { caseId reasons } } }',
        { id: refer.id },
        app,
      );
      assert.equal(before.body.data?.decision.reviewStatus, 'PENDING');
      const caseId = before.body.data!.decision.review.caseId;
      assert.ok(before.body.data!.decision.review.reasons.includes('REFER_BAND'));

      const entriesBefore = (await verifyLedger(warden.runtime.database.dataSource)).entries;
      const claim = await warden.graphql('mutation C($id: ID!) { claimCase(id: $id) { state } }', { id: caseId }, reviewer);
      assert.equal(claim.body.errors, undefined, JSON.stringify(claim.body.errors));
      const submit = await warden.graphql<{ submitReview: { state: string; finalOutcome: string } }>(
        'mutation S($input: SubmitReviewInput!) { submitReview(input: $input) { state finalOutcome } }',
        { input: { caseId, action: 'DECLINE', rationale: 'Checking account overdrawn for three months.', reasonCodes: ['RB01'] } },
        reviewer,
      );
      assert.deepEqual(submit.body.data?.submitReview, { state: 'DECIDED', finalOutcome: 'DECLINE' });

      const after = await warden.graphql<{ decision: { outcome: string; reviewStatus: string; finalOutcome: string; ledgerSeq: number } }>(
        'query D($id: ID!) { decision(id: $id) { outcome reviewStatus finalOutcome ledgerSeq } }',
        { id: refer.id },
        app,
      );
      assert.deepEqual(after.body.data?.decision, { outcome: 'REFER', reviewStatus: 'COMPLETED', finalOutcome: 'DECLINE', ledgerSeq: refer.ledgerSeq });
      const result = await verifyLedger(warden.runtime.database.dataSource);
      assert.equal(result.ok, true, result.reason);
      assert.equal(result.entries, entriesBefore + 2, 'the claim and the final outcome are two more entries');
    });
  });
}
