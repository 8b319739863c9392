import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DateOfBirthRecognizer } from './date-of-birth.recognizer.js';

const recognizer = new DateOfBirthRecognizer({ now: () => new Date('2025-06-01T00:00:00Z') });

function spans(text: string): Array<[number, number]> {
  return recognizer.scan(text).map((finding) => [finding.start, finding.end]);
}

describe('DateOfBirthRecognizer', () => {
  it('finds labeled dates in common forms', () => {
    assert.deepEqual(spans('DOB: 1985-03-12'), [[5, 15]]);
    assert.deepEqual(spans('date of birth 12/03/1985'), [[14, 24]]);
    assert.deepEqual(spans('D.O.B. 31.12.1970'), [[7, 17]]);
    assert.deepEqual(spans('born on 4 July 1976'), [[8, 19]]);
    assert.deepEqual(spans('Birthday: March 12, 1985'), [[10, 24]]);
    assert.deepEqual(spans('birth date 12-Mar-1985'), [[11, 22]]);
    assert.deepEqual(spans('dob 03/12/85'), [[4, 12]]);
  });

  it('scores labeled dates at 0.5', () => {
    assert.equal(recognizer.scan('DOB 1985-03-12')[0].score, 0.5);
  });

  it('ignores dates without a label', () => {
    assert.deepEqual(spans('Invoice date 1985-03-12'), []);
    assert.deepEqual(spans(`DOB ${'x'.repeat(40)} 1985-03-12`), []);
  });

  it('rejects impossible dates', () => {
    assert.deepEqual(spans('DOB 1985-02-30'), []);
    assert.deepEqual(spans('DOB 13/13/1985'), []);
    assert.deepEqual(spans('DOB 1985-00-10'), []);
  });

  it('accepts 29 February only in leap years', () => {
    assert.deepEqual(spans('DOB 2000-02-29'), [[4, 14]]);
    assert.deepEqual(spans('DOB 1900-02-29'), []);
  });

  it('rejects future dates and years before 1900', () => {
    assert.deepEqual(spans('DOB 2025-06-02'), []);
    assert.deepEqual(spans('DOB 2025-06-01'), [[4, 14]]);
    assert.deepEqual(spans('DOB 1899-12-31'), []);
  });

  it('accepts either day order', () => {
    assert.deepEqual(spans('DOB 12/31/1970'), [[4, 14]]);
    assert.deepEqual(spans('DOB 31/12/1970'), [[4, 14]]);
  });
});
