import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { extractText, getDocumentProxy } from 'unpdf';
import { DecisionFigureCounter, renderSummaryPdf, type UseCaseSummary } from './summary-report.js';

const SUMMARY: UseCaseSummary = {
  useCase: 'credit-application',
  tenant: 'bank-a',
  outcome: null,
  period: { from: '2026-12-01T00:00:00.000Z', to: '2026-12-05T00:00:00.000Z' },
  generatedAt: '2026-12-05T08:00:00.000Z',
  decisions: 12,
  outcomes: { APPROVE: 5, REFER: 4, DECLINE: 3 },
  meanScore: 0.31234,
  topReasonCodes: [
    { code: 'RB21', count: 6 },
    { code: 'RB02', count: 4 },
  ],
  purgedDecisions: 0,
  events: { 'access.denied': 2, 'use_case.suspended': 1 },
  useCaseEvents: { answersBlocked: 3, callsBlocked: 4, suspensions: 1 },
  review: { cases: 5, decided: 4, overridden: 1, medianSeconds: 5400, p90Seconds: 30, slaBreaches: 2 },
  ledger: { ok: true, entries: 40, headSeq: 40, headHash: 'c'.repeat(64) },
  checkpoint: { treeSize: 38, rootHash: 'd'.repeat(64), createdAt: '2026-12-05T07:55:00.000Z' },
};

async function pdfText(summary: UseCaseSummary): Promise<string> {
  const bytes = await renderSummaryPdf(summary);
  const { text } = await extractText(await getDocumentProxy(bytes), { mergePages: true });
  return text;
}

describe('renderSummaryPdf', () => {
  it('states volumes and outcome shares', async () => {
    const text = await pdfText(SUMMARY);
    assert.ok(text.includes('Warden decision summary: credit-application'), text);
    assert.ok(text.includes('Decisions: 12'), text);
    assert.ok(text.includes('APPROVE: 5 (41.7%)'), text);
    assert.ok(text.includes('REFER: 4 (33.3%)'), text);
    assert.ok(text.includes('DECLINE: 3 (25.0%)'), text);
    assert.ok(text.includes('Mean score: 0.3123'), text);
    assert.ok(text.includes('Outcomes are the automatic ones.'), text);
  });

  it('lists every outcome of answers', async () => {
    const text = await pdfText({ ...SUMMARY, decisions: 4, outcomes: { ANSWERED: 3, REFER: 1 }, topReasonCodes: [] });
    assert.ok(text.includes('ANSWERED: 3 (75.0%)'), text);
    assert.ok(text.includes('REFER: 1 (25.0%)'), text);
    assert.ok(text.includes('APPROVE: 0 (0.0%)'), text);
  });

  it('names purged decisions without reasons', async () => {
    const text = await pdfText({ ...SUMMARY, topReasonCodes: [], purgedDecisions: 4 });
    assert.ok(text.includes('None in this period.'), text);
    assert.ok(text.includes('Reason codes are unavailable for 4 decisions whose records a retention purge replaced.'), text);
    assert.ok(!(await pdfText(SUMMARY)).includes('Reason codes are unavailable'), 'no purge line without purged decisions');
  });

  it('lists reason codes and denials', async () => {
    const text = await pdfText(SUMMARY);
    assert.ok(text.includes('RB21: 6'), text);
    assert.ok(text.includes('Access denials by policy, every operation of bank-a: 2'), text);
    assert.ok(text.includes('Guardrail blocks of this use case: answers withheld 3, proxy calls blocked or withheld 4'), text);
    const allTenants = await pdfText({ ...SUMMARY, tenant: null });
    assert.ok(allTenants.includes('Access denials by policy, every operation of all tenants: 2'), allTenants);
  });

  it('reports human review', async () => {
    const text = await pdfText(SUMMARY);
    assert.ok(text.includes('Review cases: 5 opened, 4 decided by a person'), text);
    assert.ok(text.includes('Reviewer overrides of an automatic outcome: 1'), text);
    assert.ok(text.includes('median 90.0 min, 90th percentile 30 s'), text);
    assert.ok(text.includes('SLA breaches: 2'), text);
    assert.ok(text.includes('Suspensions of this use case: 1'), text);
    const withoutReview = await pdfText({ ...SUMMARY, review: null });
    assert.ok(withoutReview.includes('Review cases: no review tables in this database'), withoutReview);
  });

  it('reports the chain and checkpoint', async () => {
    const text = await pdfText(SUMMARY);
    assert.ok(text.includes('Hash chain verified: 40 entries, head seq 40'), text);
    assert.ok(text.includes('Checkpoint: tree size 38, signed 2026-12-05T07:55:00.000Z'), text);
    assert.ok(text.includes(`Checkpoint root: ${'d'.repeat(64)}`), text);
  });

  it('states a full check by the export', async () => {
    const text = await pdfText({ ...SUMMARY, ledger: { ...SUMMARY.ledger, check: { kind: 'full' } } });
    assert.ok(text.includes('Hash chain verified: 40 entries, head seq 40'), text);
    assert.ok(text.includes('Check: full verification by this export of 40 entries'), text);
  });

  it('states an incremental check', async () => {
    const check = { kind: 'incremental' as const, throughSeq: 31, verifiedAt: '2026-12-04T02:00:00.000Z', anchorSeq: 33 };
    const text = (await pdfText({ ...SUMMARY, ledger: { ...SUMMARY.ledger, entries: 9, check } })).replace(/\s+/g, ' ');
    assert.ok(text.includes('Hash chain verified through head seq 40'), text);
    assert.ok(!text.includes('9 entries'), 'an incremental check does not state its range count as the chain length');
    assert.ok(
      text.includes('Check: verified in full through seq 31 at 2026-12-04T02:00:00.000Z (recorded by entry seq 33); seq 32 to 40 verified by this export'),
      text,
    );
  });

  it('omits the check outside an export', async () => {
    const text = await pdfText(SUMMARY);
    assert.ok(!text.includes('Check:'), text);
  });

  it('reports a failed chain', async () => {
    const text = await pdfText({ ...SUMMARY, ledger: { ok: false, entries: 6, headSeq: 6, headHash: 'e'.repeat(64), firstBadSeq: 7 }, checkpoint: null });
    assert.ok(text.includes('Hash chain FAILED verification at seq 7'), text);
    assert.ok(text.includes('Checkpoint: none yet'), text);
  });
});

describe('DecisionFigureCounter', () => {
  it('counts outcomes and the mean score', () => {
    const counter = new DecisionFigureCounter();
    counter.add('REFER', 0.5, {});
    counter.add('APPROVE', 0.1, {});
    counter.add('REFER', 0.6, {});

    const figures = counter.figures();
    assert.equal(figures.decisions, 3);
    assert.deepEqual(Object.entries(figures.outcomes), [['APPROVE', 1], ['REFER', 2]]);
    assert.ok(Math.abs(figures.meanScore! - 0.4) < 1e-12, String(figures.meanScore));
  });

  it('ranks reason codes by count, then code', () => {
    const counter = new DecisionFigureCounter();
    const reasons = (...codes: string[]) => ({ reasonCodes: codes.map((code) => ({ code, weight: 1 })) });
    counter.add('DECLINE', 0.9, reasons('b', 'a', 'Z'));
    counter.add('REFER', 0.5, reasons('a', 'c', 'd', 'e', 'f'));
    counter.add('APPROVE', 0.1, reasons('g', 'g'));

    assert.deepEqual(counter.figures().topReasonCodes, [
      { code: 'a', count: 2 },
      { code: 'Z', count: 1 },
      { code: 'b', count: 1 },
      { code: 'c', count: 1 },
      { code: 'd', count: 1 },
    ]);
  });

  it('skips reason codes that are not strings', () => {
    const counter = new DecisionFigureCounter();
    counter.add('DECLINE', 0.9, { reasonCodes: ['PLAIN', { code: 7 }, { code: null }, null, { label: 'x' }, { code: 'KEPT' }] });
    counter.add('DECLINE', 0.9, { reasonCodes: { code: 'NOT_AN_ARRAY' } });
    counter.add('DECLINE', 0.9, { purged: true, purgedAt: '2026-01-01T00:00:00.000Z', rule: 'r' });

    assert.deepEqual(counter.figures().topReasonCodes, [{ code: 'KEPT', count: 1 }]);
  });

  it('has no mean without decisions', () => {
    assert.deepEqual(new DecisionFigureCounter().figures(), { decisions: 0, outcomes: {}, meanScore: null, topReasonCodes: [], purgedDecisions: 0 });
  });

  it('counts purged records', () => {
    const counter = new DecisionFigureCounter();
    counter.add('DECLINE', 0.9, { purged: true, purgedAt: '2029-01-01T00:00:00.000Z', rule: 'credit-decisions' });
    counter.add('DECLINE', 0.8, { reasonCodes: [{ code: 'RB01' }] });
    assert.equal(counter.figures().purgedDecisions, 1);
    assert.deepEqual(counter.figures().topReasonCodes, [{ code: 'RB01', count: 1 }]);
  });
});
