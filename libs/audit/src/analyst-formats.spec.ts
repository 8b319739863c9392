import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parquetReadObjects } from 'hyparquet';
import { buildAnalystFiles, decisionsToCsv, decisionsToParquet, renderAnalystFiles, toAnalystRow, type AnalystRow } from './analyst-formats.js';
import type { DecisionLine } from './bundle-format.js';

function line(overrides: Partial<DecisionLine> = {}): DecisionLine {
  return {
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
    record: { reviewStatus: 'NOT_REQUIRED', reasonCodes: [{ code: 'RB21' }, { code: 'RB02' }] },
    ...overrides,
  };
}

describe('decisionsToCsv', () => {
  it('writes a header and one row', () => {
    const csv = decisionsToCsv([toAnalystRow(line())]);
    const [header, row, end] = csv.split('\r\n');
    assert.equal(header, 'id,tenant,use_case,request_id,actor,outcome,score,model_version,created_at,ledger_seq,ledger_hash,record_digest,review_status,reason_codes');
    assert.equal(row, `7b0e1c1e-0000-4000-8000-000000000001,bank-a,credit-application,loan-1,loan-app,DECLINE,0.625,credit-application@1,2026-12-04T10:00:00.123Z,42,${'a'.repeat(64)},${'b'.repeat(64)},NOT_REQUIRED,RB21;RB02`);
    assert.equal(end, '');
  });

  it('quotes separators and quotes', () => {
    const csv = decisionsToCsv([toAnalystRow(line({ requestId: 'a,"b"\nc' }))]);
    assert.ok(csv.includes(',"a,""b""\nc",'), csv);
  });

  it('guards cells that spreadsheets evaluate', () => {
    const csv = decisionsToCsv([toAnalystRow(line({ actor: '=HYPERLINK("x")', requestId: '@sum' }))]);
    assert.ok(csv.includes(`"'=HYPERLINK(""x"")"`), csv);
    assert.ok(csv.includes(",'@sum,"), csv);
  });

  it('leaves a null request id empty', () => {
    const row: AnalystRow = toAnalystRow(line({ requestId: null }));
    assert.ok(decisionsToCsv([row]).includes(',,loan-app,'));
  });
});

describe('decisionsToParquet', () => {
  it('round-trips through a Parquet reader', async () => {
    const rows = [toAnalystRow(line()), toAnalystRow(line({ id: 'second', ledgerSeq: 43, score: 0.1, requestId: null }))];
    const bytes = decisionsToParquet(rows);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const read = await parquetReadObjects({ file });

    assert.equal(read.length, 2);
    assert.equal(read[0].id, '7b0e1c1e-0000-4000-8000-000000000001');
    assert.equal(read[0].score, 0.625);
    assert.equal(read[1].ledger_seq, 43n);
    assert.equal(read[1].request_id, null);
    assert.equal((read[0].created_at as Date).toISOString(), '2026-12-04T10:00:00.123Z');
    assert.equal(read[0].reason_codes, 'RB21;RB02');
  });

  it('writes the same bytes for the same rows', () => {
    const rows = [toAnalystRow(line())];
    assert.deepEqual(decisionsToParquet(rows), decisionsToParquet(rows));
  });
});

describe('buildAnalystFiles', () => {
  it('matches rendering in this thread', async () => {
    const rows = Array.from({ length: 2500 }, (_, i) =>
      toAnalystRow(line({ id: `decision-${i}`, ledgerSeq: 100 + i, score: i / 2500, requestId: i % 7 === 0 ? null : `=loan-${i}` })),
    );
    const inWorker = await buildAnalystFiles(rows);
    const inThread = renderAnalystFiles(rows);
    assert.equal(Buffer.from(inWorker.csv).toString('utf8'), Buffer.from(inThread.csv).toString('utf8'));
    assert.deepEqual(Buffer.from(inWorker.parquet), Buffer.from(inThread.parquet));
  });
});
