import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../common/src/index.js';
import {
  canonicalJsonValue,
  computeEntryHash,
  computeStoredEntryHash,
  computeStoredTextEntryHash,
  GENESIS_PREV_HASH,
  verifyChainSegment,
  type LedgerEntry,
} from './ledger-hash.js';

function buildChain(count: number): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  let prevHash = GENESIS_PREV_HASH;
  for (let seq = 1; seq <= count; seq += 1) {
    const fields = {
      seq,
      type: 'decision.created',
      tenant: seq % 2 === 0 ? 'bank-b' : 'bank-a',
      actor: 'svc-loans',
      payload: { decisionId: `d-${seq}`, score: seq / 10, tags: ['x', seq] },
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
    };
    const hash = computeEntryHash(prevHash, fields);
    entries.push({ ...fields, prevHash, hash });
    prevHash = hash;
  }
  return entries;
}

describe('computeEntryHash', () => {
  it('hashes prev hash then canonical JSON', () => {
    const fields = { seq: 1, type: 't', tenant: 'a', actor: 'u', payload: {}, createdAt: '2026-01-01T00:00:00.000Z' };
    const text = `${GENESIS_PREV_HASH}{"actor":"u","createdAt":"2026-01-01T00:00:00.000Z","payload":{},"seq":1,"tenant":"a","type":"t"}`;
    const expected = createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');
    assert.equal(computeEntryHash(GENESIS_PREV_HASH, fields), expected);
    assert.equal(expected, '536df38f88119712779e626e5239e5cd52b5f9bf84b52b5f5e5339503b478f5d');
  });

  it('ignores payload key order', () => {
    const base = { seq: 7, type: 't', tenant: 'a', actor: 'u', createdAt: '2026-01-01T00:00:00.000Z' };
    const first = computeEntryHash(GENESIS_PREV_HASH, { ...base, payload: { b: 1, a: { d: 2, c: 3 } } });
    const second = computeEntryHash(GENESIS_PREV_HASH, { ...base, payload: { a: { c: 3, d: 2 }, b: 1 } });
    assert.equal(first, second);
  });

  it('ignores extra fields outside the definition', () => {
    const fields = { seq: 1, type: 't', tenant: 'a', actor: 'u', payload: {}, createdAt: '2026-01-01T00:00:00.000Z' };
    const withExtras = { ...fields, prevHash: 'x', hash: 'y' };
    assert.equal(computeEntryHash(GENESIS_PREV_HASH, withExtras), computeEntryHash(GENESIS_PREV_HASH, fields));
  });

  it('changes with the prev hash and each field', () => {
    const fields = { seq: 1, type: 't', tenant: 'a', actor: 'u', payload: { n: 1 }, createdAt: '2026-01-01T00:00:00.000Z' };
    const original = computeEntryHash(GENESIS_PREV_HASH, fields);
    const variants = [
      computeEntryHash('1'.repeat(64), fields),
      computeEntryHash(GENESIS_PREV_HASH, { ...fields, seq: 2 }),
      computeEntryHash(GENESIS_PREV_HASH, { ...fields, type: 'u' }),
      computeEntryHash(GENESIS_PREV_HASH, { ...fields, tenant: 'b' }),
      computeEntryHash(GENESIS_PREV_HASH, { ...fields, actor: 'v' }),
      computeEntryHash(GENESIS_PREV_HASH, { ...fields, payload: { n: 2 } }),
      computeEntryHash(GENESIS_PREV_HASH, { ...fields, createdAt: '2026-01-01T00:00:00.001Z' }),
    ];
    for (const variant of variants) assert.notEqual(variant, original);
    assert.equal(new Set(variants).size, variants.length);
  });
});

/** Builds a pseudo-random JSON value from a seed, with awkward keys, strings and numbers. */
function randomJson(seed: number, depth = 0): unknown {
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state;
  };
  const strings = ['', 'a', 'é', '€', '😀', '\u0001', '"quoted"', 'back\\slash', 'line\nbreak', '\u2028', 'B', 'aa', '10', '1'];
  const numbers = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789012345680000, Number.MAX_SAFE_INTEGER, 5e-324, 2 ** 31, -1.5];
  const kind = depth > 3 ? next() % 4 : next() % 6;
  switch (kind) {
    case 0:
      return strings[next() % strings.length];
    case 1:
      return numbers[next() % numbers.length];
    case 2:
      return next() % 2 === 0;
    case 3:
      return null;
    case 4:
      return Array.from({ length: next() % 4 }, (_, i) => randomJson(next() + i, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      const keys = next() % 5;
      for (let i = 0; i < keys; i += 1) object[strings[next() % strings.length] + String(next() % 3)] = randomJson(next(), depth + 1);
      return object;
    }
  }
}

describe('canonicalJsonValue', () => {
  it('matches canonicalJson on parsed JSON', () => {
    for (let seed = 1; seed <= 2000; seed += 1) {
      const value = JSON.parse(JSON.stringify(randomJson(seed))) as unknown;
      assert.equal(canonicalJsonValue(value), canonicalJson(value), `seed ${seed}`);
    }
  });

  it('escapes every ASCII character as canonicalJson', () => {
    for (let code = 0; code < 0x80; code += 1) {
      const text = `a${String.fromCharCode(code)}b`;
      assert.equal(canonicalJsonValue(text), canonicalJson(text), `code ${code}`);
    }
    for (const text of ['', 'é', 'a\u2028b', '😀', 'tab\there']) assert.equal(canonicalJsonValue(text), canonicalJson(text), text);
  });

  it('sorts keys by UTF-16 code units', () => {
    assert.equal(canonicalJsonValue({ '€': 1, '😀': 2, a: 3, B: 4, aa: 5 }), '{"B":4,"a":3,"aa":5,"€":1,"😀":2}');
  });

  it('rejects values JSON cannot carry', () => {
    const invalid: [string, unknown][] = [
      ['NaN', { score: Number.NaN }],
      ['Infinity', [Number.POSITIVE_INFINITY]],
      ['undefined', { a: undefined }],
      ['a lone surrogate', { text: '\ud800' }],
      ['a Date', { at: new Date(0) }],
      ['a function', { run: () => 1 }],
      ['a bigint', { n: 1n }],
    ];
    for (const [name, value] of invalid) assert.throws(() => canonicalJsonValue(value), TypeError, name);
  });
});

describe('computeStoredEntryHash', () => {
  it('equals computeEntryHash on parsed payloads', () => {
    for (let seed = 1; seed <= 200; seed += 1) {
      const payload = { value: JSON.parse(JSON.stringify(randomJson(seed))) as unknown };
      const fields = { seq: seed, type: 'decision.created', tenant: 'bank-a', actor: 'svc-é', payload, createdAt: '2026-01-01T00:00:00.000Z' };
      assert.equal(computeStoredEntryHash(GENESIS_PREV_HASH, fields), computeEntryHash(GENESIS_PREV_HASH, fields), `seed ${seed}`);
    }
  });

  it('names the path of a bad value', () => {
    const fields = { seq: 1, type: 't', tenant: 'a', actor: 'u', payload: { nested: { score: Number.NaN } }, createdAt: '2026-01-01T00:00:00.000Z' };
    assert.throws(() => computeStoredEntryHash(GENESIS_PREV_HASH, fields), /nested\.score is NaN/);
  });
});

describe('computeStoredTextEntryHash', () => {
  const fields = { seq: 3, type: 'decision.created', tenant: 'bank-a', actor: 'svc-é', createdAt: '2026-01-01T00:00:00.000Z' };
  const payload = { outcome: 'APPROVE', score: 0.25, note: 'Zürich', reasons: [{ code: 'R1' }] };
  const hash = computeEntryHash(GENESIS_PREV_HASH, { ...fields, payload });

  it('hashes a canonical text as it is', () => {
    const entry = { ...fields, payloadJson: canonicalJson(payload), prevHash: GENESIS_PREV_HASH, hash };
    assert.equal(computeStoredTextEntryHash(GENESIS_PREV_HASH, entry), hash);
  });

  it('hashes an equal text in canonical form', () => {
    const spaced = '{"score": 0.250, "outcome": "APPROVE", "reasons": [{"code": "R1"}], "note": "Z\\u00fcrich"}';
    assert.deepEqual(JSON.parse(spaced), payload);
    const entry = { ...fields, payloadJson: spaced, prevHash: GENESIS_PREV_HASH, hash };
    assert.equal(computeStoredTextEntryHash(GENESIS_PREV_HASH, entry), hash);
  });

  it('gives another hash for an edited text', () => {
    const entry = { ...fields, payloadJson: canonicalJson({ ...payload, outcome: 'DECLINE' }), prevHash: GENESIS_PREV_HASH, hash };
    assert.notEqual(computeStoredTextEntryHash(GENESIS_PREV_HASH, entry), hash);
  });
});

describe('verifyChainSegment', () => {
  it('accepts an intact chain', () => {
    const chain = buildChain(5);
    const result = verifyChainSegment(chain, GENESIS_PREV_HASH, { expectedFirstSeq: 1 });
    assert.deepEqual(result, { ok: true, entries: 5, lastSeq: 5, lastHash: chain[4].hash });
  });

  it('accepts a segment from the middle', () => {
    const chain = buildChain(6);
    const result = verifyChainSegment(chain.slice(2, 5), chain[1].hash, { expectedFirstSeq: 3 });
    assert.deepEqual(result, { ok: true, entries: 3, lastSeq: 5, lastHash: chain[4].hash });
  });

  it('accepts an empty segment', () => {
    const result = verifyChainSegment([], GENESIS_PREV_HASH);
    assert.deepEqual(result, { ok: true, entries: 0, lastSeq: undefined, lastHash: GENESIS_PREV_HASH });
  });

  it('reports a tampered payload', () => {
    const chain = buildChain(5);
    chain[2] = { ...chain[2], payload: { ...chain[2].payload, score: 0.99 } };
    const result = verifyChainSegment(chain, GENESIS_PREV_HASH, { expectedFirstSeq: 1 });
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 3);
    assert.equal(result.problem, 'hash-mismatch');
    assert.equal(result.entries, 2);
    assert.match(result.reason, /^hash mismatch at seq 3: stored [0-9a-f]{64} but the fields hash to [0-9a-f]{64}$/);
  });

  it('reports a tampered hash as a broken link', () => {
    // Rewriting an entry's hash to match tampered fields breaks the next entry's prevHash.
    const chain = buildChain(4);
    const tampered = { ...chain[1], actor: 'intruder' };
    chain[1] = { ...tampered, hash: computeEntryHash(tampered.prevHash, tampered) };
    const result = verifyChainSegment(chain, GENESIS_PREV_HASH, { expectedFirstSeq: 1 });
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 3);
    assert.equal(result.problem, 'broken-link');
  });

  it('reports swapped entries as a gap', () => {
    const chain = buildChain(5);
    const swapped = [chain[0], chain[2], chain[1], chain[3], chain[4]];
    const result = verifyChainSegment(swapped, GENESIS_PREV_HASH, { expectedFirstSeq: 1 });
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 3);
    assert.equal(result.problem, 'seq-gap');
    assert.equal(result.reason, 'seq gap: expected seq 2 but found seq 3');
  });

  it('reports swapped contents under kept seqs', () => {
    const chain = buildChain(4);
    const swapped = [chain[0], { ...chain[2], seq: 2 }, { ...chain[1], seq: 3 }, chain[3]];
    const result = verifyChainSegment(swapped, GENESIS_PREV_HASH, { expectedFirstSeq: 1 });
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 2);
    assert.equal(result.problem, 'broken-link');
  });

  it('reports a missing entry as a gap', () => {
    const chain = buildChain(5);
    const withGap = [chain[0], chain[1], chain[3], chain[4]];
    const result = verifyChainSegment(withGap, GENESIS_PREV_HASH, { expectedFirstSeq: 1 });
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 4);
    assert.equal(result.problem, 'seq-gap');
    assert.equal(result.entries, 2);
  });

  it('reports a wrong first seq', () => {
    const chain = buildChain(3);
    const result = verifyChainSegment(chain.slice(1), chain[0].hash, { expectedFirstSeq: 1 });
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 2);
    assert.equal(result.problem, 'seq-gap');
  });

  it('reports a wrong starting prev hash', () => {
    const chain = buildChain(3);
    const result = verifyChainSegment(chain, 'f'.repeat(64), { expectedFirstSeq: 1 });
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 1);
    assert.equal(result.problem, 'broken-link');
  });

  it('reports a payload JSON cannot carry', () => {
    const chain = buildChain(2);
    chain[1] = { ...chain[1], payload: { score: Number.NaN } };
    const result = verifyChainSegment(chain, GENESIS_PREV_HASH);
    assert.ok(!result.ok);
    assert.equal(result.firstBadSeq, 2);
    assert.equal(result.problem, 'hash-mismatch');
    assert.match(result.reason, /score is NaN/);
  });
});
