import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { callCost, formatDecimal, parseDecimal } from './pricing.js';

describe('pricing', () => {
  it('parses and formats decimals exactly', () => {
    assert.equal(formatDecimal(parseDecimal('0.000001')!), '0.000001000000');
    assert.equal(formatDecimal(parseDecimal(2.5)!), '2.500000000000');
    assert.equal(formatDecimal(parseDecimal('12')!), '12.000000000000');
  });

  it('rejects invalid decimals', () => {
    for (const value of ['-1', '1e-3', '0.1234567890123', 'abc', '', null, Number.NaN]) {
      assert.equal(parseDecimal(value), undefined, String(value));
    }
  });

  it('costs hosted calls per 1k tokens', () => {
    const pricing = { kind: 'per-token' as const, promptPer1k: parseDecimal('0.5')!, completionPer1k: parseDecimal('1.5')! };
    // 1000 prompt tokens cost 0.5 and 200 completion tokens cost 0.3.
    assert.equal(formatDecimal(callCost(pricing, 1000, 200)!), '0.800000000000');
    assert.equal(formatDecimal(callCost(pricing, 3, null)!), '0.001500000000');
  });

  it('amortizes GPU-hours over throughput', () => {
    // 2.50 per hour at 2,500 tokens/s: 9,000,000 tokens per hour, so 1,000 tokens cost 0.000277777778 (rounded).
    const pricing = { kind: 'gpu' as const, gpuHourPrice: parseDecimal('2.50')!, tokensPerSecond: parseDecimal('2500')! };
    assert.equal(formatDecimal(callCost(pricing, 600, 400)!), '0.000277777778');
  });

  it('has no cost for unknown usage or pricing', () => {
    assert.equal(callCost({ kind: 'none' }, 10, 10), undefined);
    assert.equal(callCost({ kind: 'per-token', promptPer1k: 1n, completionPer1k: 1n }, null, null), undefined);
  });
});
