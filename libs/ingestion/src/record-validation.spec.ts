import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { loadDatasetDefinitions, type DatasetDefinition } from './dataset-definition.js';
import { validateRecords, type RecordValidation } from './record-validation.js';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
const definition = loadDatasetDefinitions(resolve(REPO_ROOT, 'policies')).get('german-credit') as DatasetDefinition;

/** The first row of german.data, as a CSV parser delivers it: every value a string. */
function csvStyleRecord(): Record<string, unknown> {
  return {
    application_id: 'GC-0001',
    checking_status: 'A11',
    duration_months: '6',
    credit_history: 'A34',
    purpose: 'A43',
    credit_amount: '1169',
    savings_status: 'A65',
    employment_since: 'A75',
    installment_rate_pct: '4',
    personal_status_sex: 'A93',
    other_debtors: 'A101',
    residence_since: '4',
    property: 'A121',
    age_years: '67',
    other_installment_plans: 'A143',
    housing: 'A152',
    existing_credits: '2',
    job: 'A173',
    num_dependents: '1',
    telephone: 'A192',
    foreign_worker: 'A201',
    credit_risk: '1',
  };
}

function errorsOf(result: RecordValidation) {
  assert.equal(result.ok, false, 'expected the record to be rejected');
  return result.ok ? [] : result.errors;
}

describe('validateRecords', () => {
  it('converts numeric strings in numeric fields', () => {
    const [result] = validateRecords(definition, [csvStyleRecord()]);
    assert.equal(result.ok, true);
    assert.ok(result.ok);
    assert.equal(result.recordKey, 'GC-0001');
    assert.equal(result.record.duration_months, 6);
    assert.equal(result.record.credit_amount, 1169);
    assert.equal(result.record.age_years, 67);
    assert.equal(result.record.credit_risk, 1);
    assert.equal(result.record.checking_status, 'A11');
    assert.deepEqual(Object.keys(result.record).slice(0, 3), ['application_id', 'checking_status', 'duration_months']);
  });

  it('accepts a record without the label', () => {
    const record = csvStyleRecord();
    delete record.credit_risk;
    const [result] = validateRecords(definition, [record]);
    assert.equal(result.ok, true);
  });

  it('names a missing field', () => {
    const record = csvStyleRecord();
    delete record.credit_amount;
    const errors = errorsOf(validateRecords(definition, [record])[0]);
    assert.deepEqual(errors, [{ field: 'credit_amount', message: 'credit_amount is missing; every german-credit record requires it' }]);
  });

  it('lists allowed codes for an unknown code', () => {
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), checking_status: 'A15' }])[0]);
    assert.deepEqual(errors, [
      { field: 'checking_status', message: 'checking_status has the unknown code "A15"; allowed codes are A11, A12, A13, A14' },
    ]);
  });

  it('gives the range for an age out of range', () => {
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), age_years: 7 }])[0]);
    assert.deepEqual(errors, [{ field: 'age_years', message: 'age_years is 7, outside the allowed range: 18 to 100' }]);
  });

  it('rejects a zero credit amount', () => {
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), credit_amount: 0 }])[0]);
    assert.deepEqual(errors, [
      { field: 'credit_amount', message: 'credit_amount is 0, outside the allowed range: greater than 0 and at most 1000000' },
    ]);
  });

  it('rejects a fraction in an integer field', () => {
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), duration_months: '6.5' }])[0]);
    assert.deepEqual(errors, [
      { field: 'duration_months', message: 'duration_months must be an integer (a JSON number or a numeric string), but got the number 6.5' },
    ]);
  });

  it('does not turn numbers into codes', () => {
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), purpose: 43 }])[0]);
    assert.deepEqual(errors, [{ field: 'purpose', message: 'purpose must be a string, but got the number 43' }]);
  });

  it('describes a long value by its length', () => {
    const longText = 'x'.repeat(200);
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), age_years: longText, job: longText }])[0]);
    assert.equal(errors.length, 2);
    assert.equal(errors[0].message, 'age_years must be an integer (a JSON number or a numeric string), but got a string of 200 characters');
    assert.equal(errors[1].message, 'job has the unknown code (a string of 200 characters); allowed codes are A171, A172, A173, A174');
    for (const error of errors) assert.ok(!error.message.includes('xxxx'), `message repeats the raw value: ${error.message}`);
  });

  it('rejects a field the schema lacks', () => {
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), salary: 5000 }])[0]);
    assert.deepEqual(errors, [
      { field: 'salary', message: 'salary is not a field of dataset german-credit; remove it or rename it to a defined field' },
    ]);
  });

  it('rejects a malformed record key', () => {
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), application_id: 'has space' }])[0]);
    assert.deepEqual(errors, [
      {
        field: 'application_id',
        message: 'application_id must match the pattern ^[A-Za-z0-9][A-Za-z0-9._:-]*$, but got the string "has space"',
      },
    ]);
  });

  it('rejects a value that is not an object', () => {
    const [result] = validateRecords(definition, [[1, 2]]);
    assert.deepEqual(errorsOf(result), [
      { field: 'record', message: 'record must be a JSON object of field names and values, but got an array of 2 items' },
    ]);
    assert.equal(result.ok ? undefined : result.recordKey, null);
  });

  it('lists several errors in field order', () => {
    const errors = errorsOf(validateRecords(definition, [{ ...csvStyleRecord(), age_years: 7, checking_status: 'A99', telephone: null }])[0]);
    assert.deepEqual(
      errors.map((error) => error.field),
      ['checking_status', 'age_years', 'telephone'],
    );
    assert.equal(errors[2].message, 'telephone must be a string, but got null');
  });

  it('quarantines a repeated key in a batch', () => {
    const results = validateRecords(definition, [csvStyleRecord(), { ...csvStyleRecord(), application_id: 'GC-0002' }, csvStyleRecord()]);
    assert.equal(results[0].ok, true);
    assert.equal(results[1].ok, true);
    assert.equal(results[2].row, 3);
    assert.deepEqual(errorsOf(results[2]), [
      { field: 'application_id', message: 'application_id "GC-0001" repeats the key of row 1 in this batch; each record key must be unique' },
    ]);
  });
});

describe('validateRecords on text jsonb cannot store', () => {
  it('quarantines an unpaired surrogate', () => {
    const [result] = validateRecords(definition, [{ ...csvStyleRecord(), purpose: '\ud800' }]);
    const errors = errorsOf(result);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].field, 'purpose');
    assert.match(errors[0].message, /unpaired surrogate/);
  });

  it('quarantines U+0000 in a field name', () => {
    const [result] = validateRecords(definition, [{ ...csvStyleRecord(), 'bad\u0000name': 'x' }]);
    const errors = errorsOf(result);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].field, 'record');
    assert.match(errors[0].message, /field name "bad\uFFFDname" contains U\+0000/);
  });

  it('quarantines deeply nested values', () => {
    let nested: unknown = 'leaf';
    for (let i = 0; i < 1000; i++) nested = { inner: nested };
    const [result] = validateRecords(definition, [{ ...csvStyleRecord(), purpose: nested }]);
    const errors = errorsOf(result);
    assert.equal(errors[0].field, 'purpose');
    assert.match(errors[0].message, /nested deeper than 16 levels/);
  });
});
