import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSeededRandom } from '../../common/src/index.js';
import { computeAttributions, computeDecisionReference, linearPredictor, type LinearModel } from './linear-shap.js';

const model: LinearModel = {
  coefficients: [0.6, -0.3, 1.2, -0.5, 0.1],
  intercept: -1.1,
  columns: [
    { name: 'duration_months', feature: 'duration_months', mean: 20, std: 12 },
    { name: 'age_years', feature: 'age_years', mean: 35, std: 11 },
    { name: 'checking_status=A11', feature: 'checking_status', level: 'A11' },
    { name: 'checking_status=A12', feature: 'checking_status', level: 'A12' },
    { name: 'checking_status=A14', feature: 'checking_status', level: 'A14' },
  ],
};
const columnMeans = [0, 0, 0.27, 0.27, 0.46];
const logit = (p: number) => Math.log(p / (1 - p));

describe('computeDecisionReference', () => {
  it('places the reference on the cut-off', () => {
    const reference = computeDecisionReference(model, columnMeans, 1 / 6);
    assert.ok(Math.abs(linearPredictor(model, reference.point) - logit(1 / 6)) < 1e-12);
  });

  it('moves from the mean along the coefficients', () => {
    // r - μ must be parallel to w, which makes r the boundary point nearest μ.
    const reference = computeDecisionReference(model, columnMeans, 0.3);
    const t = (reference.point[0] - columnMeans[0]) / model.coefficients[0];
    reference.point.forEach((value, j) => assert.ok(Math.abs(value - columnMeans[j] - t * model.coefficients[j]) < 1e-12));
  });

  it('rejects a cut-off outside (0, 1)', () => {
    assert.throws(() => computeDecisionReference(model, columnMeans, 1), /strictly between 0 and 1, got 1/);
  });
});

describe('computeAttributions', () => {
  const reference = computeDecisionReference(model, columnMeans, 1 / 6);

  it('sums to logit(x) - logit(r) on random rows', () => {
    const random = createSeededRandom(42);
    for (let trial = 0; trial < 500; trial++) {
      const level = Math.floor(random() * 3);
      const row = Float64Array.of(random() * 8 - 4, random() * 8 - 4, level === 0 ? 1 : 0, level === 1 ? 1 : 0, level === 2 ? 1 : 0);
      const total = computeAttributions(model, row, reference).reduce((sum, attribution) => sum + attribution.contribution, 0);
      const expected = linearPredictor(model, row) - linearPredictor(model, reference.point);
      assert.ok(Math.abs(total - expected) < 1e-9, `trial ${trial}: ${total} vs ${expected}`);
    }
  });

  it('sums a categorical over its one-hot columns', () => {
    const row = Float64Array.of(0.5, -1, 0, 0, 1);
    const attributions = computeAttributions(model, row, reference);
    const checking = attributions.find((attribution) => attribution.feature === 'checking_status');
    const expected = 1.2 * (0 - reference.point[2]) + -0.5 * (0 - reference.point[3]) + 0.1 * (1 - reference.point[4]);
    assert.equal(checking?.value, 'A14');
    assert.ok(Math.abs((checking?.contribution ?? NaN) - expected) < 1e-15);
  });

  it('reports raw numeric values and sorts by contribution', () => {
    const row = Float64Array.of((44 - 20) / 12, (23 - 35) / 11, 1, 0, 0);
    const attributions = computeAttributions(model, row, reference);
    assert.deepEqual(
      attributions.map((attribution) => [attribution.feature, attribution.value]),
      [
        ['checking_status', 'A11'],
        ['duration_months', 44],
        ['age_years', 23],
      ],
    );
    for (let i = 1; i < attributions.length; i++) assert.ok(attributions[i - 1].contribution >= attributions[i].contribution);
  });

  it('rejects a row of the wrong width', () => {
    assert.throws(() => computeAttributions(model, Float64Array.of(1, 2), reference), /encoded row has 2 columns/);
  });
});
