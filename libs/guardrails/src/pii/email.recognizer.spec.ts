import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EmailRecognizer } from './email.recognizer.js';

function spans(text: string): Array<[number, number]> {
  return new EmailRecognizer().scan(text).map((finding) => [finding.start, finding.end]);
}

describe('EmailRecognizer', () => {
  it('finds common addresses', () => {
    assert.deepEqual(spans('jane.doe+loans@mail.example.co.uk'), [[0, 33]]);
    assert.deepEqual(spans('Write to <ops_team@bank.example>.'), [[10, 31]]);
    assert.deepEqual(spans('a@b.io, c@d.io'), [[0, 6], [8, 14]]);
  });

  it('finds internationalized domains', () => {
    assert.deepEqual(spans('user@xn--80ak6aa92e.com'), [[0, 23]]);
    assert.deepEqual(spans('kontakt@bücher.de'), [[0, 17]]);
  });

  it('requires a top-level domain', () => {
    assert.deepEqual(spans('root@localhost'), []);
    assert.deepEqual(spans('info@presidio.'), []);
    assert.deepEqual(spans('x@example.c0m'), []);
  });

  it('leaves quotes and assignments out of the span', () => {
    assert.deepEqual(spans("user='jane@example.com'"), [[6, 22]]);
    assert.deepEqual(spans('mailto:jane@example.com?subject=hi'), [[7, 23]]);
  });

  it('rejects malformed addresses', () => {
    assert.deepEqual(spans('jane..doe@example.com'), []);
    assert.deepEqual(spans('jane@-example.com'), []);
    assert.deepEqual(spans('@example.com'), []);
  });

  it('rejects a local part over 64 characters', () => {
    assert.deepEqual(spans(`${'a'.repeat(65)}@example.com`), []);
    assert.deepEqual(spans(`${'a'.repeat(64)}@example.com`), [[0, 76]]);
  });
});
