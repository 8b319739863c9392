import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decisionJsonLine, ledgerEntryJsonLine, toJsonLine, type DecisionLine } from './bundle-format.js';
import { canonicalJsonValue, type LedgerEntry } from './ledger-hash.js';

const decision: DecisionLine = {
  id: '7b0e1c1e-0000-4000-8000-000000000001',
  tenant: 'bank-a',
  useCase: 'credit-application',
  requestId: 'loan-1',
  actor: 'loan-app',
  outcome: 'DECLINE',
  score: 0.625,
  modelVersion: 'credit-application@1',
  createdAt: '2026-12-04T10:00:00.123Z',
  ledgerSeq: 42,
  ledgerHash: 'a'.repeat(64),
  recordDigest: 'b'.repeat(64),
  record: { reviewStatus: 'NOT_REQUIRED', reasonCodes: [{ code: 'RB21', weight: -1.5e-7 }], 10: 'ten', 9: 'nine', é: 'accent', Z: 'upper' },
};

describe('decisionJsonLine', () => {
  it('matches the canonical JSON line', () => {
    const cases: DecisionLine[] = [
      decision,
      { ...decision, requestId: null, score: 0 },
      { ...decision, personalData: 'sealed' },
      { ...decision, personalData: 'erased', actor: 'quote " and \\ and \n and \u2028', record: {} },
      { ...decision, score: 1e21, ledgerSeq: Number.MAX_SAFE_INTEGER },
    ];
    for (const line of cases) assert.equal(decisionJsonLine(line), toJsonLine(line), JSON.stringify(line));
  });

  it('raises on a value JSON cannot hold', () => {
    assert.throws(() => decisionJsonLine({ ...decision, score: Number.NaN }), /NaN|not a JSON number|finite/i);
  });
});

describe('ledgerEntryJsonLine', () => {
  it('matches the canonical JSON line', () => {
    const entries: LedgerEntry[] = [
      {
        seq: 7,
        type: 'decision.created',
        tenant: 'bank-a',
        actor: 'loan-app',
        payload: { decisionId: 'x', recordDigest: 'c'.repeat(64), nested: { b: [1, 2, { d: null, c: true }], a: 'ü' } },
        createdAt: '2026-12-04T10:00:00.123Z',
        prevHash: '0'.repeat(64),
        hash: 'd'.repeat(64),
      },
      { seq: 1, type: 'review.decided', tenant: 't', actor: 'reviewer "x"', payload: {}, createdAt: '2026-01-01T00:00:00.000Z', prevHash: 'e'.repeat(64), hash: 'f'.repeat(64) },
    ];
    for (const entry of entries) assert.equal(ledgerEntryJsonLine(entry, canonicalJsonValue(entry.payload)), toJsonLine(entry), entry.type);
  });
});
