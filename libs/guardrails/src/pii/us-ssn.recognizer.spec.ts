import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UsSsnRecognizer } from './us-ssn.recognizer.js';

function scan(text: string): Array<{ span: [number, number]; score: number }> {
  return new UsSsnRecognizer().scan(text).map((finding) => ({ span: [finding.start, finding.end], score: finding.score }));
}

describe('UsSsnRecognizer', () => {
  it('scores separated forms highest', () => {
    assert.deepEqual(scan('078-05-1123'), [{ span: [0, 11], score: 0.55 }]);
    assert.deepEqual(scan('078.05.1123'), [{ span: [0, 11], score: 0.55 }]);
    assert.deepEqual(scan('078 05 1123'), [{ span: [0, 11], score: 0.55 }]);
  });

  it('scores unseparated and one-dash forms lower', () => {
    assert.deepEqual(scan('078051121'), [{ span: [0, 9], score: 0.3 }]);
    assert.deepEqual(scan('078-051121'), [{ span: [0, 10], score: 0.2 }]);
    assert.deepEqual(scan('07805-1121'), [{ span: [0, 10], score: 0.2 }]);
  });

  it('raises the score after an SSN label', () => {
    const [labeled] = scan('Her SSN: 078-05-1123');
    assert.deepEqual(labeled.span, [9, 20]);
    assert.ok(Math.abs(labeled.score - 0.9) < 1e-9, `score ${labeled.score}`);
    const [spelled] = scan('social security number 078051121');
    assert.ok(Math.abs(spelled.score - 0.65) < 1e-9, `score ${spelled.score}`);
  });

  it('rejects mixed or one-sided dot and space separators', () => {
    assert.deepEqual(scan('693-09.4444'), []);
    assert.deepEqual(scan('078 05-1123'), []);
    assert.deepEqual(scan('078.051121'), []);
    assert.deepEqual(scan('07805 1121'), []);
  });

  it('rejects numbers that are never issued', () => {
    for (const text of ['000-12-3456', '666-12-3456', '900-12-3456', '987-65-4321', '078-00-1123', '078-05-0000', '111-11-1111', '078-05-1120', '219-09-9999', '123-45-6789']) {
      assert.deepEqual(scan(text), [], text);
    }
  });

  it('rejects digits inside longer numbers', () => {
    assert.deepEqual(scan('0780511201'), []);
    assert.deepEqual(scan('1-078-05-1123'), []);
    assert.deepEqual(scan('078-05-1123-4'), []);
    assert.deepEqual(scan('A078-05-1123'), []);
  });

  it('finds two numbers in one sentence', () => {
    assert.deepEqual(
      scan('SSNs 078-05-1123 and 078-05-1124.').map((finding) => finding.span),
      [[5, 16], [21, 32]],
    );
  });
});
