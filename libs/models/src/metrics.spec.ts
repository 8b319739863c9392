import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { discriminationMetrics, ksStatistic, rocAuc } from './metrics.js';

describe('rocAuc', () => {
  it('counts correctly ordered pairs', () => {
    // Pairs (positive, negative): (0.35, 0.1) right, (0.35, 0.4) wrong, (0.8, 0.1) right, (0.8, 0.4) right.
    assert.equal(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), 0.75);
  });

  it('counts a tied pair as one half', () => {
    // The positive at 0.5 ties both negatives (2 × 0.5); the positive at 0.9 beats both (2).
    assert.equal(rocAuc([0.5, 0.5, 0.5, 0.9], [false, true, false, true]), 0.75);
  });

  it('returns 0.5 when every score is equal', () => {
    assert.equal(rocAuc([0.3, 0.3, 0.3], [true, false, false]), 0.5);
  });

  it('returns 1 and 0 for perfect orderings', () => {
    assert.equal(rocAuc([0.1, 0.2, 0.9], [false, false, true]), 1);
    assert.equal(rocAuc([0.9, 0.2, 0.1], [false, false, true]), 0);
  });

  it('rejects a sample with one class', () => {
    assert.throws(() => rocAuc([0.1, 0.2], [true, true]), /need both classes, got 2 positives and 0 negatives/);
  });
});

describe('ksStatistic', () => {
  it('finds the largest gap between the class distributions', () => {
    // After 0.1: F0 = 1/2, F1 = 0. After 0.35: 1/2, 1/2. After 0.4: 1, 1/2. After 0.8: 1, 1.
    assert.equal(ksStatistic([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), 0.5);
  });

  it('measures only after a whole tie group', () => {
    // Only the point after the whole tie at 0.5 counts: F0 = 1, F1 = 1/2.
    assert.equal(ksStatistic([0.5, 0.5, 0.5, 0.9], [false, true, false, true]), 0.5);
    // Counting inside the tie would see the gap 1 after the two negatives; no threshold gives it.
    assert.equal(ksStatistic([0.5, 0.5, 0.5, 0.5], [false, false, true, true]), 0);
  });

  it('returns 1 for perfectly separated scores', () => {
    assert.equal(ksStatistic([0.1, 0.2, 0.8, 0.9], [false, false, true, true]), 1);
  });
});

describe('discriminationMetrics', () => {
  it('derives gini from auc', () => {
    const metrics = discriminationMetrics([0.1, 0.4, 0.35, 0.8], [false, false, true, true]);
    assert.deepEqual(metrics, { auc: 0.75, ks: 0.5, gini: 0.5 });
  });
});
