import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_REVIEW_CONFIG, resolveReviewConfig, type ReviewConfig } from './review-config.js';
import { inQualitySample, routeForReview, type RoutingInput } from './routing.js';

const CONFIG: ReviewConfig = {
  ...DEFAULT_REVIEW_CONFIG,
  slaMinutes: [30, 120, 600],
  refer: { priority: 2, fourEyes: false },
  thresholds: [
    { field: 'credit_amount', above: 15000, priority: 1, fourEyes: true },
    { field: 'score', above: 0.9, priority: 3, fourEyes: false },
  ],
  qualitySample: { rate: 0, priority: 3 },
};

function input(overrides: Partial<RoutingInput>): RoutingInput {
  return {
    decisionId: '00000000-0000-4000-8000-000000000001',
    outcome: 'APPROVE',
    score: 0.1,
    features: { credit_amount: 5000 },
    suspended: false,
    ...overrides,
  };
}

describe('routeForReview', () => {
  it('sends nothing to review when no rule matches', () => {
    assert.equal(routeForReview(CONFIG, input({})), null);
  });

  it('sends every REFER to review with the refer priority and its SLA', () => {
    assert.deepEqual(routeForReview(CONFIG, input({ outcome: 'REFER', score: 0.4 })), {
      reasons: ['REFER_BAND'],
      details: [],
      priority: 2,
      fourEyes: false,
      slaMinutes: 120,
    });
  });

  it('combines priorities and four-eyes', () => {
    const routed = routeForReview(CONFIG, input({ outcome: 'REFER', features: { credit_amount: 15001 } }));
    assert.deepEqual(routed?.reasons, ['REFER_BAND', 'THRESHOLD_EXCEEDED']);
    assert.deepEqual(routed?.details, ['credit_amount 15001 > 15000']);
    assert.equal(routed?.priority, 1);
    assert.equal(routed?.fourEyes, true);
    assert.equal(routed?.slaMinutes, 30);
  });

  it('compares thresholds strictly and can read the score', () => {
    assert.equal(routeForReview(CONFIG, input({ features: { credit_amount: 15000 } })), null);
    assert.deepEqual(routeForReview(CONFIG, input({ outcome: 'DECLINE', score: 0.95 }))?.details, ['score 0.95 > 0.9']);
  });

  it('marks requests taken while the use case is suspended as most urgent', () => {
    const routed = routeForReview(CONFIG, input({ suspended: true }));
    assert.deepEqual(routed?.reasons, ['USE_CASE_SUSPENDED']);
    assert.equal(routed?.priority, 1);
  });

  it('samples for quality control only decisions that no other rule sent', () => {
    const always = { ...CONFIG, qualitySample: { rate: 1, priority: 3 as const } };
    assert.deepEqual(routeForReview(always, input({}))?.reasons, ['QUALITY_SAMPLE']);
    assert.deepEqual(routeForReview(always, input({ outcome: 'REFER' }))?.reasons, ['REFER_BAND']);
  });
});

describe('inQualitySample', () => {
  it('is deterministic per decision id and close to the rate over many ids', () => {
    const ids = Array.from({ length: 20_000 }, (_, index) => `00000000-0000-4000-8000-${index.toString(16).padStart(12, '0')}`);
    const sampled = ids.filter((id) => inQualitySample(id, 0.05)).length;
    assert.ok(Math.abs(sampled / ids.length - 0.05) < 0.006, `sampled ${sampled} of ${ids.length}`);
    assert.deepEqual(ids.slice(0, 500).map((id) => inQualitySample(id, 0.05)), ids.slice(0, 500).map((id) => inQualitySample(id, 0.05)));
    assert.equal(inQualitySample(ids[0], 0), false);
    assert.equal(inQualitySample(ids[0], 1), true);
  });
});

describe('resolveReviewConfig', () => {
  const numeric = ['credit_amount', 'age_years'];
  const all = [...numeric, 'purpose'];

  it('fills defaults for a missing section and for omitted keys', () => {
    assert.deepEqual(resolveReviewConfig(undefined, numeric, all), DEFAULT_REVIEW_CONFIG);
    const resolved = resolveReviewConfig({ thresholds: [{ field: 'credit_amount', above: 10, priority: 1 }] }, numeric, all);
    assert.equal(typeof resolved, 'object');
    assert.equal((resolved as ReviewConfig).thresholds[0].fourEyes, false);
    assert.equal((resolved as ReviewConfig).holdSeconds, 0);
  });

  it('names the key and the fix for each invalid value', () => {
    const problems: [unknown, RegExp][] = [
      [{ slaMinutes: [60, 240] }, /slaMinutes must list three/],
      [{ refer: { priority: 4 } }, /refer\.priority must be 1, 2 or 3/],
      [{ qualitySample: { rate: 1.5 } }, /qualitySample\.rate must be a number from 0 to 1/],
      [{ thresholds: [{ field: 'purpose', above: 1, priority: 1 }] }, /thresholds\[0\]\.field must be "score" or a numeric feature/],
      [{ holdSeconds: 61 }, /holdSeconds must be a whole number from 0 to 60/],
      [{ whenSuspended: 'ignore' }, /whenSuspended must be "reject" or "review"/],
      [{ maskedFields: ['ssn'] }, /maskedFields names "ssn"/],
      [[], /review must be a mapping/],
    ];
    for (const [raw, message] of problems) assert.match(String(resolveReviewConfig(raw, numeric, all)), message);
  });
});
