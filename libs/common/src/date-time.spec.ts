import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDateOrDateTime, parseDateTime } from './date-time.js';

describe('parseDateTime', () => {
  it('reads RFC 3339 date-times with a zone', () => {
    assert.equal(parseDateTime('2026-01-02T05:00:00Z')?.toISOString(), '2026-01-02T05:00:00.000Z');
    assert.equal(parseDateTime('2026-01-02T06:00:00.250+01:00')?.toISOString(), '2026-01-02T05:00:00.250Z');
    assert.equal(parseDateTime('2024-02-29T00:00Z')?.toISOString(), '2024-02-29T00:00:00.000Z');
  });

  for (const text of [
    '2026-02-30T01:00:00Z',
    '2025-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T00:00:00',
    '2026-01-01',
    '0000-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z',
    '+275760-09-13T00:00:00Z',
    ' 2026-01-01T00:00:00Z',
  ]) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseDateTime(text), undefined);
    });
  }

  it('rejects values that are not strings', () => {
    assert.equal(parseDateTime(1767225600000), undefined);
    assert.equal(parseDateTime(null), undefined);
  });
});

describe('parseDateOrDateTime', () => {
  it('reads a calendar date as midnight UTC', () => {
    assert.equal(parseDateOrDateTime('2026-12-01')?.toISOString(), '2026-12-01T00:00:00.000Z');
    assert.equal(parseDateOrDateTime('2024-02-29')?.toISOString(), '2024-02-29T00:00:00.000Z');
  });

  it('reads a date-time with a zone', () => {
    assert.equal(parseDateOrDateTime('2026-12-04T00:00:00-05:00')?.toISOString(), '2026-12-04T05:00:00.000Z');
  });

  for (const text of ['2026-02-30', '2026-02-30T00:00:00Z', '2026-12-04T00:00:00', '2026-12-4', 'notadate', '']) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parseDateOrDateTime(text), undefined);
    });
  }
});

