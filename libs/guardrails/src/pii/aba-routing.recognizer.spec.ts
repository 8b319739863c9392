import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AbaRoutingRecognizer } from './aba-routing.recognizer.js';

function scan(text: string): Array<{ span: [number, number]; score: number }> {
  return new AbaRoutingRecognizer().scan(text).map((finding) => ({ span: [finding.start, finding.end], score: finding.score }));
}

describe('AbaRoutingRecognizer', () => {
  it('finds plain and dashed numbers', () => {
    assert.deepEqual(scan('121000358'), [{ span: [0, 9], score: 0.4 }]);
    assert.deepEqual(scan('0711-0130-7'), [{ span: [0, 11], score: 0.4 }]);
  });

  it('raises the score after a routing label', () => {
    assert.deepEqual(scan('ABA routing number: 021000021'), [{ span: [20, 29], score: 0.85 }]);
    assert.deepEqual(scan('RTN 021000021'), [{ span: [4, 13], score: 0.85 }]);
  });

  it('rejects a wrong check digit', () => {
    assert.deepEqual(scan('021000022'), []);
  });

  it('rejects unassigned prefixes', () => {
    // Each has a valid check digit, but 13, 42 and 50 are not Federal Reserve prefixes.
    for (const text of ['130000006', '420000004', '500000005']) assert.deepEqual(scan(text), [], text);
    assert.deepEqual(scan('000000000'), []);
  });

  it('rejects other dash layouts and longer numbers', () => {
    assert.deepEqual(scan('021-000-021'), []);
    assert.deepEqual(scan('0210000210'), []);
    assert.deepEqual(scan('1-021000021'), []);
  });
});
