import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, digestJson, sha256Hex } from './hashing.js';

describe('canonicalJson', () => {
  it('sorts keys and drops whitespace', () => {
    assert.equal(canonicalJson({ b: 1, a: [true, null, 'x'] }), '{"a":[true,null,"x"],"b":1}');
  });

  it('formats numbers as ECMAScript does', () => {
    // RFC 8785 section 3.2.2.3: numbers are serialized like Number.prototype.toString.
    assert.equal(canonicalJson([1e21, 1.5e-7, -0, 100]), '[1e+21,1.5e-7,0,100]');
  });

  it('sorts keys by UTF-16 code units', () => {
    assert.equal(canonicalJson({ '\u20ac': 1, '\r': 2, '1': 3 }), '{"\\r":2,"1":3,"\u20ac":1}');
  });

  it('rejects NaN and undefined values', () => {
    assert.throws(() => canonicalJson({ score: Number.NaN }), /score is NaN/);
    assert.throws(() => canonicalJson({ reason: undefined }), /reason is undefined/);
  });
});

describe('sha256Hex', () => {
  it('matches the FIPS 180-2 test vector', () => {
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('digests equal JSON values equally', () => {
    assert.equal(digestJson({ a: 1, b: 2 }), digestJson({ b: 2, a: 1 }));
  });
});
