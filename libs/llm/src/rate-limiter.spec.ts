import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TenantRateLimiter } from './rate-limiter.js';

describe('TenantRateLimiter', () => {
  it('allows a burst then rejects', () => {
    let now = 0;
    const limiter = new TenantRateLimiter(3, () => now);
    assert.deepEqual([limiter.take('a'), limiter.take('a'), limiter.take('a')], [0, 0, 0]);
    assert.equal(limiter.take('a'), 20, 'one request returns every 20 s at 3 per minute');
    assert.equal(limiter.take('b'), 0, 'tenants have their own buckets');
    now = 20_000;
    assert.equal(limiter.take('a'), 0);
    assert.ok(limiter.take('a') > 0);
  });
});
