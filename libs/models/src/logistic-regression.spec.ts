import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSeededRandom, seededShuffle } from '../../common/src/index.js';
import { fitLogisticRegression, scoreFromCoefficients, sigmoid, trainLogisticRegression } from './logistic-regression.js';

/** Rows of one 0/1 feature: at x = 0, 3 of 10 are positive; at x = 1, 6 of 8 are positive. */
function twoGroupData(): { design: Float64Array[]; outcomes: boolean[] } {
  const design: Float64Array[] = [];
  const outcomes: boolean[] = [];
  for (let i = 0; i < 10; i++) {
    design.push(Float64Array.of(0));
    outcomes.push(i < 3);
  }
  for (let i = 0; i < 8; i++) {
    design.push(Float64Array.of(1));
    outcomes.push(i < 6);
  }
  return { design, outcomes };
}

describe('fitLogisticRegression', () => {
  it('matches the closed form for one binary feature', () => {
    // Without a penalty the fit reproduces each group's rate: intercept = logit(3/10) and
    // slope = logit(6/8) - logit(3/10) = log 3 - log(3/7) = log 7.
    const { design, outcomes } = twoGroupData();
    const fit = fitLogisticRegression(design, outcomes, { l2: 0 });
    assert.ok(Math.abs(fit.intercept - Math.log(3 / 7)) < 1e-9, `intercept ${fit.intercept}`);
    assert.ok(Math.abs(fit.coefficients[0] - Math.log(7)) < 1e-9, `slope ${fit.coefficients[0]}`);
    assert.ok(fit.iterations < 10, `took ${fit.iterations} iterations`);
  });

  it('satisfies the penalized score equations', () => {
    // At the optimum X'(y - p) = λ[0, w], so the intercept's equation has no penalty term.
    const random = createSeededRandom(7);
    const design = Array.from({ length: 200 }, () => Float64Array.of(random() * 2 - 1, random() * 2 - 1, random() < 0.4 ? 1 : 0));
    const outcomes = design.map((row) => random() < sigmoid(0.3 + 1.5 * row[0] - 2 * row[1] + 0.8 * row[2]));
    const l2 = 2.5;
    const fit = fitLogisticRegression(design, outcomes, { l2 });

    const gradient = [0, 0, 0, 0];
    design.forEach((row, i) => {
      const residual = (outcomes[i] ? 1 : 0) - scoreFromCoefficients(fit.coefficients, fit.intercept, row);
      gradient[0] += residual;
      for (let j = 0; j < 3; j++) gradient[j + 1] += residual * row[j];
    });
    assert.ok(Math.abs(gradient[0]) < 1e-9, `intercept equation ${gradient[0]}`);
    for (let j = 0; j < 3; j++) {
      const equation = gradient[j + 1] - l2 * fit.coefficients[j];
      assert.ok(Math.abs(equation) < 1e-9, `column ${j} equation ${equation}`);
    }
  });

  it('shrinks coefficients as the penalty grows', () => {
    const { design, outcomes } = twoGroupData();
    const slopes = [0, 1, 10].map((l2) => fitLogisticRegression(design, outcomes, { l2 }).coefficients[0]);
    assert.ok(slopes[0] > slopes[1], `slopes ${slopes.join(', ')}`);
    assert.ok(slopes[1] > slopes[2], `slopes ${slopes.join(', ')}`);
    assert.ok(slopes[2] > 0, `slopes ${slopes.join(', ')}`);
  });

  it('reports separable data without a penalty', () => {
    const design = [0, 1, 2, 3].map((x) => Float64Array.of(x));
    assert.throws(() => fitLogisticRegression(design, [false, false, true, true], { l2: 0 }), /did not converge|singular/);
  });

  it('reports collinear columns without a penalty', () => {
    const { design, outcomes } = twoGroupData();
    const oneHot = design.map((row) => Float64Array.of(row[0], 1 - row[0]));
    assert.throws(() => fitLogisticRegression(oneHot, outcomes, { l2: 0 }), /singular/);
  });
});

describe('trainLogisticRegression', () => {
  const rows = Array.from({ length: 60 }, (_, i) => ({
    owns_home: i % 3 === 0 ? 1 : 0,
    housing: ['A151', 'A152', 'A153'][i % 3],
    credit_risk: (i * 7) % 5 < 2 ? 2 : 1,
  }));

  it('matches the closed form on its training split', () => {
    const model = trainLogisticRegression(rows, {
      spec: { numeric: ['owns_home'], categorical: [] },
      label: 'credit_risk',
      positiveValue: 2,
      seed: 11,
      l2: 0,
    });

    // The split takes the first round(n · 0.3) indexes of the seeded shuffle as the holdout.
    const training = seededShuffle(
      rows.map((_, i) => i),
      11,
    ).slice(18);
    const rate = (group: number) => {
      const members = training.filter((i) => rows[i].owns_home === group);
      return members.filter((i) => rows[i].credit_risk === 2).length / members.length;
    };
    const logit = (p: number) => Math.log(p / (1 - p));
    const slope = logit(rate(1)) - logit(rate(0));
    const share = training.filter((i) => rows[i].owns_home === 1).length / training.length;
    const std = Math.sqrt(share * (1 - share));

    // On the standardized column z = (x - share) / std the fit is slope · std, and the intercept moves by slope · share.
    assert.ok(Math.abs(model.coefficients[0] - slope * std) < 1e-6, `coefficient ${model.coefficients[0]} vs ${slope * std}`);
    assert.ok(Math.abs(model.intercept - (logit(rate(0)) + slope * share)) < 1e-6, `intercept ${model.intercept}`);
    assert.equal(model.metrics.trainingRows, 42);
    assert.equal(model.metrics.holdoutRows, 18);
  });

  it('is deterministic for a seed', () => {
    const options = {
      spec: { numeric: ['owns_home'], categorical: [{ name: 'housing', levels: ['A151', 'A152', 'A153'] }] },
      label: 'credit_risk',
      positiveValue: '2',
      seed: 3,
    };
    assert.deepEqual(trainLogisticRegression(rows, options), trainLogisticRegression(rows, options));
    assert.notDeepEqual(trainLogisticRegression(rows, options).metrics, trainLogisticRegression(rows, { ...options, seed: 4 }).metrics);
  });

  it('rejects a holdout fraction of 1', () => {
    assert.throws(
      () => trainLogisticRegression(rows, { spec: { numeric: ['owns_home'], categorical: [] }, label: 'credit_risk', positiveValue: 2, seed: 1, holdoutFraction: 1 }),
      /holdoutFraction must be between 0 and 1/,
    );
  });
});
