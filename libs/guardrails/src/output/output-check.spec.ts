import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scanPii } from '../pii/index.js';
import { checkReplyText, emptyFindings, StreamingOutputGuard, type OutputCheck } from './output-check.js';

const IBAN = 'DE89370400440532013000';
const CARD = '4111 1111 1111 1111';

const maskPii: OutputCheck = (text) =>
  scanPii(text).map((finding) => ({ start: finding.start, end: finding.end, guardrail: 'pii', label: finding.entityType, replacement: `[${finding.entityType}]`, block: false }));

const blockWord: OutputCheck = (text) => [...text.matchAll(/\bforbidden\b/g)].map((match) => ({ start: match.index, end: match.index + 9, guardrail: 'topic', label: 'secret', block: true }));

/** Pushes `pieces` through a guard and returns everything it released. */
function streamed(guard: StreamingOutputGuard, pieces: string[]): string {
  return pieces.map((piece) => guard.push(piece)).join('') + guard.flush();
}

/** Splits `text` into pieces of `size` characters. */
function split(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

describe('checkReplyText', () => {
  it('masks personal data', () => {
    const findings = emptyFindings();
    assert.equal(checkReplyText(`Send it to ${IBAN}.`, maskPii, findings), 'Send it to [IBAN].');
    assert.deepEqual([...findings.pii], [['IBAN', 1]]);
    assert.equal(findings.blocked, false);
  });

  it('returns undefined on a blocking span', () => {
    const findings = emptyFindings();
    assert.equal(checkReplyText('This is forbidden.', blockWord, findings), undefined);
    assert.deepEqual([...findings.blockedBy], ['topic']);
  });
});

describe('StreamingOutputGuard', () => {
  const reply = `Your card ${CARD} and the account ${IBAN} are closed. `.repeat(3);
  const expected = 'Your card [CREDIT_CARD] and the account [IBAN] are closed. '.repeat(3);

  for (const size of [1, 2, 3, 7, 16, 300]) {
    it(`masks values split into ${size}-character pieces`, () => {
      const guard = new StreamingOutputGuard(maskPii, 64);
      assert.equal(streamed(guard, split(reply, size)), expected);
      assert.equal(guard.findings.pii.get('CREDIT_CARD'), 3);
      assert.equal(guard.findings.pii.get('IBAN'), 3);
    });
  }

  it('never releases a prefix of a value', () => {
    const guard = new StreamingOutputGuard(maskPii, 64);
    const released: string[] = [];
    for (const piece of split(`x `.repeat(40) + IBAN + ' end', 5)) released.push(guard.push(piece));
    assert.ok(!released.join('').includes('DE8937'), released.join(''));
  });

  it('stops at a blocking span', () => {
    const guard = new StreamingOutputGuard(blockWord, 32);
    const text = streamed(guard, split(`${'fine words '.repeat(10)}this is forbidden and more text follows`, 4));
    assert.equal(guard.blocked, true);
    assert.ok(!text.includes('forbid'), text);
    assert.equal(guard.push('more'), '');
  });

  it('releases everything on flush', () => {
    const guard = new StreamingOutputGuard(maskPii, 64);
    assert.equal(guard.push('short'), '');
    assert.equal(guard.flush(), 'short');
  });
});
