import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EntityManager } from 'typeorm';
import type { LedgerAppender, LedgerEntryInput, LedgerReceipt } from '../../libs/audit/src/index.js';
import { FailedPreconditionError, NotFoundError, sha256Hex } from '../../libs/common/src/index.js';
import {
  assertNoProhibitedBasis,
  computeAttributions,
  computeDecisionReference,
  linearPredictor,
  loadReasonCodeMap,
  selectReasonCodes,
} from '../../libs/explain/src/index.js';
import {
  FeatureEncoder,
  ModelRegistry,
  ONNX_METADATA_ENCODER_SHA256,
  ONNX_METADATA_MODEL_VERSION,
  OnnxScorer,
  exportLogisticRegressionOnnx,
  readOnnxMetadata,
  scoreFromCoefficients,
  trainLogisticRegression,
  type FeatureSpec,
  type RegisterModelInput,
  type TrainedLogisticRegression,
} from '../../libs/models/src/index.js';
import { REPO_ROOT, databaseTargets, sharedDataPath, type TestDatabase } from '../support/databases.js';

/** Column order of german.data, from attributes 1 to 20 of german.doc, then the class (1 good, 2 bad). */
const COLUMNS = [
  'checking_status', 'duration_months', 'credit_history', 'purpose', 'credit_amount', 'savings_status', 'employment_since',
  'installment_rate_pct', 'personal_status_sex', 'other_debtors', 'residence_since', 'property', 'age_years',
  'other_installment_plans', 'housing', 'existing_credits', 'job', 'num_dependents', 'telephone', 'foreign_worker', 'credit_risk',
];
const NUMERIC = ['duration_months', 'credit_amount', 'installment_rate_pct', 'residence_since', 'age_years', 'existing_credits', 'num_dependents'];

const range = (prefix: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

/**
 * The German Credit attributes without personal_status_sex and foreign_worker. The Equal Credit
 * Opportunity Act forbids sex, marital status and national origin as a basis for a credit
 * decision, so the reason-code map marks these two and the model leaves them out.
 */
const SPEC: FeatureSpec = {
  numeric: NUMERIC,
  categorical: [
    { name: 'checking_status', levels: range('A1', 1, 4) },
    { name: 'credit_history', levels: range('A3', 0, 4) },
    { name: 'purpose', levels: [...range('A4', 0, 9), 'A410'] },
    { name: 'savings_status', levels: range('A6', 1, 5) },
    { name: 'employment_since', levels: range('A7', 1, 5) },
    { name: 'other_debtors', levels: range('A10', 1, 3) },
    { name: 'property', levels: range('A12', 1, 4) },
    { name: 'other_installment_plans', levels: range('A14', 1, 3) },
    { name: 'housing', levels: range('A15', 1, 3) },
    { name: 'job', levels: range('A17', 1, 4) },
    { name: 'telephone', levels: range('A19', 1, 2) },
  ],
};

/** German Credit's cost matrix makes a missed default 5 times as costly as a lost good loan, so declining above PD 1/6 minimizes expected cost. */
const APPROVAL_CUTOFF = 1 / 6;

function parseGermanCredit(path: string): Record<string, string | number>[] {
  const lines = readFileSync(path, 'utf8').split('\n').filter((line) => line.trim() !== '');
  return lines.map((line, index) => {
    const fields = line.trim().split(/\s+/);
    assert.equal(fields.length, 21, `line ${index + 1} has ${fields.length} fields`);
    return Object.fromEntries(COLUMNS.map((name, i) => [name, NUMERIC.includes(name) || name === 'credit_risk' ? Number(fields[i]) : fields[i]]));
  });
}

/** Records ledger entries in a table of the test's own database, inside the registry's transaction. */
class TableLedger implements LedgerAppender {
  failNext = false;

  async append(manager: EntityManager, entry: LedgerEntryInput): Promise<LedgerReceipt> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('ledger append failed on purpose');
    }
    const [row] = await manager.query(
      'INSERT INTO model_test_ledger (type, tenant, actor, payload) VALUES ($1, $2, $3, $4::jsonb) RETURNING seq, created_at',
      [entry.type, entry.tenant, entry.actor, JSON.stringify(entry.payload)],
    );
    return { seq: Number(row.seq), hash: sha256Hex(JSON.stringify(entry)), prevHash: '0'.repeat(64), createdAt: new Date(row.created_at).toISOString() };
  }
}

const data = sharedDataPath('tabular/german_credit_statlog/german.data');
const targets = await databaseTargets();

describe('credit model on German Credit', { skip: data.skipReason }, () => {
  let rows: Record<string, string | number>[];
  let model: TrainedLogisticRegression;
  let encoded: Float64Array[];

  before(() => {
    rows = parseGermanCredit(data.path);
    model = trainLogisticRegression(rows, { spec: SPEC, label: 'credit_risk', positiveValue: 2, seed: 20240601, holdoutFraction: 0.3, l2: 1 });
    const encoder = FeatureEncoder.fromJSON(model.encoder);
    encoded = rows.map((row) => encoder.encode(row));
  });

  it('parses all 1,000 rows', () => {
    assert.equal(rows.length, 1000);
    assert.equal(rows.filter((row) => row.credit_risk === 2).length, 300);
  });

  it('discriminates on the holdout', (t) => {
    t.diagnostic(`holdout AUC ${model.metrics.auc.toFixed(4)}, KS ${model.metrics.ks.toFixed(4)}, Gini ${model.metrics.gini.toFixed(4)}, train AUC ${model.metrics.trainAuc.toFixed(4)}, ${model.metrics.iterations} iterations`);
    assert.ok(model.metrics.auc > 0.7, `holdout AUC ${model.metrics.auc}`);
    assert.ok(model.metrics.ks > 0.3, `holdout KS ${model.metrics.ks}`);
    assert.equal(model.metrics.gini, 2 * model.metrics.auc - 1);
    assert.equal(model.metrics.trainingRows, 700);
    assert.equal(model.metrics.holdoutRows, 300);
    // 7 numerics and 49 one-hot columns over the 11 categoricals.
    assert.equal(model.coefficients.length, 7 + 49);
  });

  it('scores the same in ONNX for every row', async (t) => {
    const bytes = exportLogisticRegressionOnnx({
      coefficients: model.coefficients,
      intercept: model.intercept,
      columns: model.columns,
      modelVersion: 'credit-application@0',
      encoderStateHash: FeatureEncoder.fromJSON(model.encoder).stateHash(),
    });
    const scorer = await OnnxScorer.load(bytes);
    const scores = await scorer.score(encoded);
    await scorer.release();

    assert.equal(scores.length, 1000);
    let largestGap = 0;
    encoded.forEach((row, i) => {
      largestGap = Math.max(largestGap, Math.abs(scores[i] - scoreFromCoefficients(model.coefficients, model.intercept, row)));
    });
    assert.ok(largestGap < 1e-6, `largest ONNX gap ${largestGap}`);
    t.diagnostic(`largest gap between ONNX and coefficient scores: ${largestGap}`);
  });

  it('explains every declined applicant', async () => {
    const { map } = await loadReasonCodeMap(join(REPO_ROOT, 'policies'), 'credit-application');
    assertNoProhibitedBasis([...SPEC.numeric, ...SPEC.categorical.map((field) => field.name)], map);
    const reference = computeDecisionReference(model, model.columnMeans, APPROVAL_CUTOFF);

    let declined = 0;
    for (const row of encoded) {
      const logOdds = linearPredictor(model, row);
      if (logOdds <= Math.log(APPROVAL_CUTOFF / (1 - APPROVAL_CUTOFF))) continue;
      declined++;
      const attributions = computeAttributions(model, row, reference);
      const total = attributions.reduce((sum, attribution) => sum + attribution.contribution, 0);
      assert.ok(Math.abs(total - (logOdds - Math.log(APPROVAL_CUTOFF / (1 - APPROVAL_CUTOFF)))) < 1e-9);

      const reasons = selectReasonCodes(attributions, map);
      assert.ok(reasons.length >= 1, 'a declined applicant gets at least one reason');
      assert.ok(reasons.length <= 4, `${reasons.length} reasons`);
      assert.ok(reasons.every((reason) => reason.contribution > 0));
    }
    assert.ok(declined > 100, `${declined} declined`);
  });

  for (const target of targets) {
    describe(`registry on ${target.name}`, { skip: target.skipReason }, () => {
      let db: TestDatabase;
      let registry: ModelRegistry;
      let ledger: TableLedger;
      let input: RegisterModelInput;

      before(async () => {
        db = await target.open();
        await db.database.dataSource.query(
          'CREATE TABLE model_test_ledger (seq bigserial PRIMARY KEY, type text, tenant text, actor text, payload jsonb, created_at timestamptz DEFAULT now())',
        );
        ledger = new TableLedger();
        registry = new ModelRegistry(db.database.dataSource, ledger);
        const encoderStateHash = FeatureEncoder.fromJSON(model.encoder).stateHash();
        input = {
          useCase: 'credit-application',
          tenant: 'bank-a',
          createdBy: 'model-risk@bank-a',
          artifact: (version) =>
            exportLogisticRegressionOnnx({ coefficients: model.coefficients, intercept: model.intercept, columns: model.columns, modelVersion: version, encoderStateHash }),
          dataset: 'german_credit_statlog',
          datasetVersion: sha256Hex(readFileSync(data.path)),
          features: SPEC,
          encoder: model.encoder,
          coefficients: model.coefficients,
          intercept: model.intercept,
          reference: computeDecisionReference(model, model.columnMeans, APPROVAL_CUTOFF),
          metrics: model.metrics,
          trainingConfig: model.trainingConfig,
        };
      });
      after(async () => {
        await db?.cleanup();
      });

      it('numbers versions per use case', async () => {
        const first = await registry.register(input);
        const second = await registry.register(input);
        assert.equal(first.version, 'credit-application@1');
        assert.equal(second.version, 'credit-application@2');
        assert.equal((await registry.register({ ...input, useCase: 'credit-limit' })).version, 'credit-limit@1');
      });

      it('appends a model.registered entry', async () => {
        const [entry] = await db.database.dataSource.query("SELECT * FROM model_test_ledger WHERE payload->>'version' = 'credit-application@2'");
        assert.equal(entry.type, 'model.registered');
        assert.equal(entry.tenant, 'bank-a');
        assert.equal(entry.actor, 'model-risk@bank-a');
        assert.equal(entry.payload.datasetVersion, input.datasetVersion);
        assert.equal(entry.payload.trainingRows, 700);
        assert.equal(entry.payload.holdoutRows, 300);
        assert.equal(entry.payload.metrics.auc, model.metrics.auc);
        const latest = await registry.latest('credit-application', 'bank-a');
        assert.equal(entry.payload.artifactSha256, latest.artifactSha256);
      });

      it('loads the latest version intact', async () => {
        const latest = await registry.latest('credit-application', 'bank-a');
        assert.equal(latest.version, 'credit-application@2');
        assert.equal(latest.artifactSha256, sha256Hex(latest.artifact));
        assert.deepEqual(latest.coefficients, model.coefficients);
        assert.equal(latest.intercept, model.intercept);
        assert.deepEqual(latest.encoder, model.encoder);
        assert.deepEqual(latest.reference, input.reference);
        assert.deepEqual(latest.metrics, model.metrics);
        assert.equal(readOnnxMetadata(latest.artifact)[ONNX_METADATA_MODEL_VERSION], 'credit-application@2');
        assert.equal(readOnnxMetadata(latest.artifact)[ONNX_METADATA_ENCODER_SHA256], FeatureEncoder.fromJSON(latest.encoder).stateHash());

        const scorer = await OnnxScorer.load(latest.artifact);
        const [score] = await scorer.score([encoded[0]]);
        await scorer.release();
        assert.ok(Math.abs(score - scoreFromCoefficients(latest.coefficients, latest.intercept, encoded[0])) < 1e-12);
      });

      it('gets a version by name or number', async () => {
        assert.equal((await registry.get('credit-application', 'credit-application@1')).versionNumber, 1);
        assert.equal((await registry.get('credit-application', 1)).version, 'credit-application@1');
        await assert.rejects(registry.get('credit-application', 9), NotFoundError);
        await assert.rejects(registry.latest('fraud-screening', 'bank-a'), NotFoundError);
      });

      it('rolls back when the ledger append fails', async () => {
        ledger.failNext = true;
        await assert.rejects(registry.register(input), /ledger append failed on purpose/);
        assert.equal((await registry.latest('credit-application', 'bank-a')).version, 'credit-application@2');
        assert.equal((await registry.register(input)).version, 'credit-application@3');
      });

      it('rejects changes except status', async () => {
        const source = db.database.dataSource;
        await assert.rejects(source.query("UPDATE models.model_versions SET intercept = 0 WHERE version = 'credit-application@1'"), /immutable/);
        await assert.rejects(source.query("DELETE FROM models.model_versions WHERE version = 'credit-application@1'"), /immutable/);
        await source.query("UPDATE models.model_versions SET status = 'approved' WHERE version = 'credit-application@1'");
        assert.equal((await registry.get('credit-application', 1)).status, 'approved');
      });

      it('rejects a corrupted artifact', async () => {
        // Tampering as the table owner, with the immutability trigger switched off for the write.
        const source = db.database.dataSource;
        await source.query('ALTER TABLE models.model_versions DISABLE TRIGGER model_versions_immutable');
        await source.query(
          "UPDATE models.model_versions SET artifact = set_byte(artifact, 40, (get_byte(artifact, 40) + 1) % 256) WHERE version = 'credit-application@1'",
        );
        await source.query('ALTER TABLE models.model_versions ENABLE TRIGGER model_versions_immutable');

        await assert.rejects(registry.get('credit-application', 1), (error: unknown) => {
          assert.ok(error instanceof FailedPreconditionError);
          assert.match(error.message, /artifact of model credit-application@1 does not match its registered SHA-256/);
          return true;
        });
        assert.equal((await registry.get('credit-application', 2)).version, 'credit-application@2');
      });
    });
  }
});
