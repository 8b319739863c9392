import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadUserInputError } from '../../common/src/index.js';
import { createApplicationValidator } from './application-validator.js';
import type { UseCaseConfig } from './use-case-config.js';

function config(dataSubject?: UseCaseConfig['dataSubject']): UseCaseConfig {
  return {
    features: { numeric: [{ name: 'credit_amount', minimum: 1, maximum: 1000, integer: true }], categorical: [{ name: 'purpose', levels: ['A40'] }] },
    excludedFields: [],
    ...(dataSubject ? { dataSubject } : {}),
  } as unknown as UseCaseConfig;
}

function fieldErrors(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof BadUserInputError);
    return (error.fieldErrors ?? []).map((fieldError) => `${fieldError.field}: ${fieldError.message}`);
  }
  assert.fail('expected a BadUserInputError');
}

describe('application validator data subject', () => {
  const application = { credit_amount: 500, purpose: 'A40' };

  it('returns the subject id apart from the features', () => {
    const result = createApplicationValidator(config({ idField: 'applicantId', required: false })).validate({ ...application, applicantId: 'C-1029384' });
    assert.equal(result.subjectId, 'C-1029384');
    assert.deepEqual(result.features, application);
  });

  it('accepts a missing optional subject id', () => {
    assert.equal(createApplicationValidator(config({ idField: 'applicantId', required: false })).validate(application).subjectId, null);
  });

  it('requires the subject id when configured', () => {
    assert.deepEqual(fieldErrors(() => createApplicationValidator(config({ idField: 'applicantId', required: true })).validate(application)), ['applicantId: is required']);
  });

  it('rejects control characters and empty ids', () => {
    const validator = createApplicationValidator(config({ idField: 'applicantId', required: false }));
    assert.deepEqual(fieldErrors(() => validator.validate({ ...application, applicantId: 'C-1\u0000' })), ['applicantId: must not contain control characters']);
    assert.deepEqual(fieldErrors(() => validator.validate({ ...application, applicantId: '' })), ['applicantId: must not be empty']);
  });

  it('accepts only ids that erasure accepts', () => {
    const validator = createApplicationValidator(config({ idField: 'applicantId', required: false }));
    const rule = 'applicantId: must be 1 to 128 UTF-16 code units of well-formed, printable text';
    // 65 emoji are 65 code points, within the schema's limit, but 130 UTF-16 code units.
    assert.deepEqual(fieldErrors(() => validator.validate({ ...application, applicantId: '\u{1F600}'.repeat(65) })), [rule]);
    assert.deepEqual(fieldErrors(() => validator.validate({ ...application, applicantId: 'X\ud800Y' })), [rule]);
    assert.equal(validator.validate({ ...application, applicantId: '\u{1F600}'.repeat(64) }).subjectId, '\u{1F600}'.repeat(64));
  });

  it('rejects the field when no data subject is configured', () => {
    assert.deepEqual(fieldErrors(() => createApplicationValidator(config()).validate({ ...application, applicantId: 'C-1' })), [
      'applicantId: is not a field of this use case; remove it',
    ]);
  });
});

describe('request validator data subject', () => {
  const request = {
    asOf: 'event_time',
    numeric: [{ name: 'amount', minimum: 0, maximum: 1000 }],
    categorical: [],
    entities: ['name_orig', 'name_dest'],
  };
  const payment = { event_time: '2026-01-01T10:00:00Z', amount: 50, name_orig: 'C123', name_dest: 'M456' };

  it('returns the payer entity as subject id', () => {
    const withSubject = { ...config({ idField: 'name_orig', required: true }), request } as UseCaseConfig;
    const result = createApplicationValidator(withSubject).validate(payment);
    assert.equal(result.subjectId, 'C123');
    assert.equal(result.features.name_orig, 'C123');
  });

  it('returns no subject id without dataSubject', () => {
    assert.equal(createApplicationValidator({ ...config(), request } as UseCaseConfig).validate(payment).subjectId, null);
  });
});
