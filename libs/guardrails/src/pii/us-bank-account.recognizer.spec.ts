import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsBankAccountRecognizer } from './us-bank-account.recognizer.js';

function spans(text: string): Array<[number, number]> {
  return new UsBankAccountRecognizer().scan(text).map((finding) => [finding.start, finding.end]);
}

describe('UsBankAccountRecognizer', () => {
  it('finds numbers after an account label', () => {
    assert.deepEqual(spans('account number 945456787654'), [[15, 27]]);
    assert.deepEqual(spans('Acct #: 12345678'), [[8, 16]]);
    assert.deepEqual(spans('a/c 12345678901234567'), [[4, 21]]);
    assert.deepEqual(spans('savings 3004589921'), [[8, 18]]);
  });

  it('scores below the validating recognizers', () => {
    const [finding] = new UsBankAccountRecognizer().scan('account 945456787654');
    assert.equal(finding.score, 0.5);
  });

  it('ignores numbers without a label', () => {
    assert.deepEqual(spans('945456787654'), []);
    assert.deepEqual(spans('reference 945456787654'), []);
  });

  it('ignores a label outside the window', () => {
    assert.deepEqual(spans(`account ${'x'.repeat(40)} 945456787654`), []);
  });

  it('requires 8 to 17 digits', () => {
    assert.deepEqual(spans('account 1234567'), []);
    assert.deepEqual(spans('account 123456789012345678'), []);
  });
});
