import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadDatasetDefinitions } from '../../ingestion/src/index.js';
import { deriveEventFields } from './event-fields.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const definition = loadDatasetDefinitions(join(REPO_ROOT, 'policies')).get('paysim-transactions');

describe('deriveEventFields', () => {
  it('derives the event time from the PaySim step', () => {
    assert.ok(definition);
    const derived = deriveEventFields(definition, { row: 2, value: { step: '17', amount: '1.5' } }).value as Record<string, unknown>;
    assert.equal(derived.event_time, '2026-01-01T17:00:00.000Z');
  });

  it('derives a stable key from the line and the row', () => {
    assert.ok(definition);
    const first = deriveEventFields(definition, { row: 2, value: { step: '1', amount: '10' } }).value as Record<string, unknown>;
    const again = deriveEventFields(definition, { row: 2, value: { step: '1', amount: '10' } }).value as Record<string, unknown>;
    const otherLine = deriveEventFields(definition, { row: 3, value: { step: '1', amount: '10' } }).value as Record<string, unknown>;
    assert.match(String(first.event_key), /^PS-[0-9a-f]{24}$/);
    assert.equal(first.event_key, again.event_key);
    assert.notEqual(first.event_key, otherLine.event_key);
  });

  it('keeps values the row already has', () => {
    assert.ok(definition);
    const value = { event_key: 'K-1', event_time: '2026-02-01T00:00:00Z', step: '1' };
    assert.deepEqual(deriveEventFields(definition, { row: 2, value }).value, value);
  });

  it('passes rows with parse errors through', () => {
    assert.ok(definition);
    const row = { row: 4, value: 'not json', parseErrors: [{ field: 'record', message: 'line 4 is not valid JSON' }] };
    assert.equal(deriveEventFields(definition, row), row);
  });
});
