import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hashPolicyBundle } from './policy-bundle.js';

describe('hashPolicyBundle', () => {
  // sha256 of [{"content":"p, a\n","name":"casbin/a.csv"},{"content":"[r]\n","name":"casbin/b.conf"}]
  const EXPECTED = 'fb17d36e7b1aceb6583198b3612b2275a88f0f934363fa131b1c83982e4ee5dd';

  it('hashes sorted canonical JSON', () => {
    const hash = hashPolicyBundle([
      { name: 'casbin/b.conf', content: '[r]\n' },
      { name: 'casbin/a.csv', content: 'p, a\n' },
    ]);
    assert.equal(hash, EXPECTED);
  });

  it('hashes CRLF like LF', () => {
    const hash = hashPolicyBundle([
      { name: 'casbin/a.csv', content: 'p, a\r\n' },
      { name: 'casbin/b.conf', content: '[r]\r\n' },
    ]);
    assert.equal(hash, EXPECTED);
  });

  it('changes with a file name', () => {
    const hash = hashPolicyBundle([
      { name: 'casbin/a.csv', content: 'p, a\n' },
      { name: 'casbin/c.conf', content: '[r]\n' },
    ]);
    assert.notEqual(hash, EXPECTED);
  });

  it('rejects a repeated file name', () => {
    assert.throws(
      () => hashPolicyBundle([{ name: 'x', content: '' }, { name: 'x', content: 'y' }]),
      /the file name "x" occurs twice/,
    );
  });
});
