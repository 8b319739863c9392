import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serializeError } from './logger.js';

describe('serializeError', () => {
  it('drops SQL text and parameters', () => {
    const error = Object.assign(new Error('invalid input syntax for type json'), {
      name: 'QueryFailedError',
      code: '22P02',
      query: 'INSERT INTO ingestion.quarantine VALUES ($1)',
      parameters: [{ credit_amount: 48213.77 }],
      driverError: { detail: 'Token "x" is invalid.' },
    });
    const serialized = serializeError(error);
    const text = JSON.stringify(serialized);

    assert.equal(serialized.type, 'QueryFailedError');
    assert.equal(serialized.code, '22P02');
    assert.equal(serialized.message, 'invalid input syntax for type json');
    assert.ok(!text.includes('INSERT'), 'no SQL text');
    assert.ok(!text.includes('48213.77'), 'no parameter values');
    assert.ok(!text.includes('Token'), 'no driver detail');
  });

  it('bounds long messages', () => {
    const serialized = serializeError(new Error('x'.repeat(5000)));
    assert.equal((serialized.message as string).length, 303);
  });

  it('describes a thrown non-error', () => {
    assert.deepEqual(serializeError('plain string'), { type: 'string' });
  });
});
