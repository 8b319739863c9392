import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyedTextDigest, keyedTextDigestMatches, newTextSalt } from './keyed-text.js';

describe('keyedTextDigest', () => {
  it('matches RFC 4231 test case 2', () => {
    // HMAC-SHA-256 with key "Jefe" and data "what do ya want for nothing?".
    assert.equal(keyedTextDigest('what do ya want for nothing?', Buffer.from('Jefe')), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('differs per salt for the same text', () => {
    assert.notEqual(keyedTextDigest('Case 4711', newTextSalt()), keyedTextDigest('Case 4711', newTextSalt()));
  });

  it('matches only the text and salt it was made from', () => {
    const salt = newTextSalt();
    const digest = keyedTextDigest('Subpoena in Doe v. Bank', salt);
    assert.equal(keyedTextDigestMatches('Subpoena in Doe v. Bank', salt, digest), true);
    assert.equal(keyedTextDigestMatches('Subpoena in Roe v. Bank', salt, digest), false);
    assert.equal(keyedTextDigestMatches('Subpoena in Doe v. Bank', newTextSalt(), digest), false);
    assert.equal(keyedTextDigestMatches('Subpoena in Doe v. Bank', salt, 'abc'), false);
  });
});
