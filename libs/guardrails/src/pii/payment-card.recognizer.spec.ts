import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isAbaChecksumValid, isIbanChecksumValid, isLuhnValid, isSingleRepeatedDigit } from './checksums.js';
import { PaymentCardRecognizer } from './payment-card.recognizer.js';

function spans(text: string): Array<[number, number]> {
  return new PaymentCardRecognizer().scan(text).map((finding) => [finding.start, finding.end]);
}

describe('PaymentCardRecognizer', () => {
  it('finds the major schemes', () => {
    for (const pan of ['4111111111111111', '5105105105105100', '2223003122003222', '378282246310005', '6011111111111117', '3530111333300000', '30569309025904', '6200000000000005']) {
      assert.deepEqual(spans(pan), [[0, pan.length]], pan);
    }
  });

  it('accepts printed groupings', () => {
    assert.deepEqual(spans('card 4111 1111 1111 1111 exp 12/29'), [[5, 24]]);
    assert.deepEqual(spans('Amex 3782 822463 10005.'), [[5, 22]]);
    assert.deepEqual(spans('4111-1111-1111-1111'), [[0, 19]]);
  });

  it('splits numbers written one after another', () => {
    assert.deepEqual(spans('4111111111111111 5105-1051-0510-5100 3782 822463 10005'), [[0, 16], [17, 36], [37, 54]]);
  });

  it('skips a leading group that is not part of the card', () => {
    assert.deepEqual(spans('order 12 4111 1111 1111 1111'), [[9, 28]]);
  });

  it('rejects mixed separators and odd grouping', () => {
    assert.deepEqual(spans('4111 1111-1111 1111'), []);
    assert.deepEqual(spans('41 11 11 11 11 11 11 11'), []);
    assert.deepEqual(spans('4111  1111  1111  1111'), []);
  });

  it('rejects a failed Luhn check', () => {
    assert.deepEqual(spans('4111111111111112'), []);
  });

  it('rejects unknown issuer ranges and lengths', () => {
    assert.deepEqual(spans('9100000000000000'), []);
    assert.deepEqual(spans('0000000000000000'), []);
    // A Visa number must have 13, 16 or 19 digits.
    assert.deepEqual(spans('41111111111111113'), []);
  });

  it('rejects digits inside longer tokens', () => {
    assert.deepEqual(spans('x4111111111111111'), []);
    assert.deepEqual(spans('4111111111111111y'), []);
    assert.deepEqual(spans('12.4111111111111111'), []);
    assert.deepEqual(spans('123456789012345678901234'), []);
  });
});

describe('checksums', () => {
  it('computes Luhn', () => {
    assert.equal(isLuhnValid('79927398713'), true);
    assert.equal(isLuhnValid('79927398710'), false);
  });

  it('computes IBAN MOD 97-10', () => {
    assert.equal(isIbanChecksumValid('GB82WEST12345698765432'), true);
    assert.equal(isIbanChecksumValid('GB82WEST12345698765433'), false);
  });

  it('computes the ABA 3-7-1 check', () => {
    assert.equal(isAbaChecksumValid('011000015'), true);
    assert.equal(isAbaChecksumValid('011000016'), false);
  });

  it('detects one repeated digit', () => {
    assert.equal(isSingleRepeatedDigit('0000000000000000'), true);
    assert.equal(isSingleRepeatedDigit('0000000000000001'), false);
    assert.equal(isSingleRepeatedDigit(''), false);
  });
});
