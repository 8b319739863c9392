import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IpAddressRecognizer } from './ip-address.recognizer.js';

function scan(text: string): Array<{ span: [number, number]; score: number }> {
  return new IpAddressRecognizer().scan(text).map((finding) => ({ span: [finding.start, finding.end], score: finding.score }));
}

function spans(text: string): Array<[number, number]> {
  return scan(text).map((finding) => finding.span);
}

describe('IpAddressRecognizer', () => {
  it('scores IPv4, IPv6 and the unspecified address', () => {
    assert.deepEqual(scan('from 203.0.113.7'), [{ span: [5, 16], score: 0.6 }]);
    assert.deepEqual(scan('from 2001:db8::7'), [{ span: [5, 16], score: 0.8 }]);
    assert.deepEqual(scan('bind ::'), [{ span: [5, 7], score: 0.1 }]);
  });

  it('includes zone and valid prefix length', () => {
    assert.deepEqual(spans('fe80::1%eth0/64'), [[0, 15]]);
    assert.deepEqual(spans('10.0.0.0/8 and 10.0.0.0/33'), [[0, 10], [15, 23]]);
    assert.deepEqual(spans('2001:db8::/129'), [[0, 10]]);
  });

  it('covers an embedded IPv4 tail once', () => {
    assert.deepEqual(spans('::ffff:192.0.2.1'), [[0, 16]]);
  });

  it('rejects look-alikes', () => {
    for (const text of ['v1.2.3', 'aa:bb:cc:dd:ee:ff', '12:34:56', 'std::vector', 'A::B::C', '999.1.1.1', '01.2.3.4', 'deadbeef', 'Face: value']) {
      assert.deepEqual(spans(text), [], text);
    }
  });

  it('scans a long hex dump quickly', () => {
    const dump = Array.from({ length: 20_000 }, () => 'ab').join(':');
    const started = process.hrtime.bigint();
    assert.deepEqual(spans(dump), []);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(elapsedMs < 1000, `took ${elapsedMs.toFixed(0)} ms`);
  });

  it('rejects addresses glued to words', () => {
    assert.deepEqual(spans('host10.0.0.1'), []);
    assert.deepEqual(spans('10.0.0.1host'), []);
    assert.deepEqual(spans('fe80::1x'), []);
  });
});
