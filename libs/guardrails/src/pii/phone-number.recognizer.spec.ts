import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PhoneNumberRecognizer } from './phone-number.recognizer.js';

function scan(text: string, recognizer = new PhoneNumberRecognizer()): Array<{ span: [number, number]; score: number }> {
  return recognizer
    .scan(text)
    .map((finding) => ({ span: [finding.start, finding.end] as [number, number], score: finding.score }))
    .sort((left, right) => left.span[0] - right.span[0]);
}

describe('PhoneNumberRecognizer', () => {
  it('finds national formats of default regions', () => {
    assert.deepEqual(scan('Call (202) 456-1111.'), [{ span: [5, 19], score: 0.5 }]);
    assert.deepEqual(scan('London office 020 7946 0958'), [{ span: [14, 27], score: 0.5 }]);
    assert.deepEqual(scan('Büro 030 1234567'), [{ span: [5, 16], score: 0.5 }]);
  });

  it('scores international numbers higher', () => {
    assert.deepEqual(scan('Zurich +41 44 668 18 00'), [{ span: [7, 23], score: 0.7 }]);
    assert.deepEqual(scan('Tokyo +81 3-1234-5678'), [{ span: [6, 21], score: 0.7 }]);
  });

  it('reports a number once across regions', () => {
    assert.equal(scan('+44 20 7946 0958').length, 1);
  });

  it('reads national formats only for listed regions', () => {
    const text = 'My CN number is 13812345678';
    assert.deepEqual(scan(text), []);
    assert.deepEqual(scan(text, new PhoneNumberRecognizer({ regions: ['CN'] })), [{ span: [16, 27], score: 0.5 }]);
  });

  it('finds more with POSSIBLE leniency', () => {
    const text = 'one is415-555-0132';
    assert.deepEqual(scan(text), []);
    assert.equal(scan(text, new PhoneNumberRecognizer({ leniency: 'POSSIBLE' })).length, 1);
  });

  it('skips card numbers and IPv4 addresses', () => {
    assert.deepEqual(scan('4111 1111 1111 1111'), []);
    assert.deepEqual(scan('from 203.0.113.7'), []);
  });

  it('rejects year/number citations', () => {
    assert.deepEqual(scan('Regulation (EU) 2024/1689, Article 16'), []);
    assert.deepEqual(scan('Regulation (EU) 2016/679'), []);
    assert.deepEqual(scan('Directive (EU) 2015/2366 and Regulation 575/2013'), []);
  });

  it('finds slash-separated German numbers', () => {
    assert.deepEqual(scan('Tel. 030/1234567'), [{ span: [5, 16], score: 0.5 }]);
    assert.deepEqual(scan('Tel. 089/12345678'), [{ span: [5, 17], score: 0.5 }]);
  });

  it('rejects calendar dates', () => {
    assert.deepEqual(scan('on 2024-03-12'), []);
    assert.deepEqual(scan('on 12.03.1985'), []);
  });
});
