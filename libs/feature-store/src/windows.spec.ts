import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bucketStart, inWindow, parseDuration, windowRange } from './windows.js';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('parseDuration', () => {
  it('reads seconds, minutes, hours and days', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('24h'), 24 * HOUR);
    assert.equal(parseDuration('30d'), 30 * 24 * HOUR);
  });

  it('rejects zero, fractions, spaces and unknown units', () => {
    for (const text of ['0h', '1.5h', ' 1h', '1 h', '1w', 'h', '', '-1h', '01h']) {
      assert.equal(parseDuration(text), undefined, text);
    }
  });

  it('rejects durations above 400 days', () => {
    assert.equal(parseDuration('400d'), 400 * 24 * HOUR);
    assert.equal(parseDuration('401d'), undefined);
  });
});

describe('window math', () => {
  it('aligns buckets to the epoch', () => {
    assert.equal(bucketStart(T0 + 90 * 60_000, HOUR), T0 + HOUR);
    assert.equal(bucketStart(T0 + HOUR, HOUR), T0 + HOUR);
    assert.equal(bucketStart(T0 + HOUR - 1, HOUR), T0);
  });

  it('ends a window at the start of the as-of bucket', () => {
    const asOf = T0 + 5 * HOUR + 20 * 60_000;
    assert.deepEqual(windowRange(asOf, 2 * HOUR, HOUR), { from: T0 + 3 * HOUR, to: T0 + 5 * HOUR });
  });

  it('excludes an event at the as-of time', () => {
    const asOf = T0 + 5 * HOUR;
    assert.equal(inWindow(asOf, asOf, HOUR, HOUR), false);
    assert.equal(inWindow(asOf - 1, asOf, HOUR, HOUR), true);
  });

  it('excludes events in the open bucket', () => {
    const asOf = T0 + 5 * HOUR + 30 * 60_000;
    assert.equal(inWindow(T0 + 5 * HOUR + 60_000, asOf, HOUR, HOUR), false);
    assert.equal(inWindow(T0 + 4 * HOUR, asOf, HOUR, HOUR), true);
  });

  it('includes the lower edge and excludes older events', () => {
    const asOf = T0 + 24 * HOUR;
    assert.equal(inWindow(T0, asOf, 24 * HOUR, HOUR), true);
    assert.equal(inWindow(T0 - 1, asOf, 24 * HOUR, HOUR), false);
  });
});
