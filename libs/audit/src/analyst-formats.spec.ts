import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { AnalystParquetWriter, LEGACY_PARQUET_LAYOUT, PARQUET_LAYOUT, type ParquetLayout } from './analyst-encoding.js';
import { AnalystFilesBuilder, decisionsToCsv, decisionsToParquet, renderAnalystFiles, toAnalystRow, type AnalystRow } from './analyst-formats.js';
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
    const bytes = decisionsToParquet(rows, PARQUET_LAYOUT);
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
    assert.deepEqual(decisionsToParquet(rows, PARQUET_LAYOUT), decisionsToParquet(rows, PARQUET_LAYOUT));
  });
});

describe('AnalystFilesBuilder', () => {
  const rows = Array.from({ length: 2500 }, (_, i) =>
    toAnalystRow(line({ id: `decision-${i}`, ledgerSeq: 100 + i, score: i / 2500, requestId: i % 7 === 0 ? null : `=loan-${i}` })),
  );

  it('matches rendering in this thread', async () => {
    const builder = new AnalystFilesBuilder(PARQUET_LAYOUT);
    for (const row of rows) builder.add(row);
    const inWorker = await builder.finish();
    const inThread = renderAnalystFiles(rows, PARQUET_LAYOUT);
    assert.equal(Buffer.from(inWorker.csv).toString('utf8'), Buffer.from(inThread.csv).toString('utf8'));
    assert.deepEqual(Buffer.from(inWorker.parquet), Buffer.from(inThread.parquet));
  });

  it('writes a header-only CSV without rows', async () => {
    const files = await new AnalystFilesBuilder(PARQUET_LAYOUT).finish();
    assert.equal(Buffer.from(files.csv).toString('utf8'), decisionsToCsv([]));
    assert.deepEqual(Buffer.from(files.parquet), Buffer.from(renderAnalystFiles([], PARQUET_LAYOUT).parquet));
  });

  it('renders in this thread after the worker dies', async () => {
    const builder = new AnalystFilesBuilder(PARQUET_LAYOUT);
    for (const row of rows.slice(0, 1500)) builder.add(row);
    await builder['worker']?.terminate();
    // Rows added after the worker ended reach the files through the copy kept in this thread.
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const row of rows.slice(1500)) builder.add(row);
    const files = await builder.finish();
    assert.deepEqual(Buffer.from(files.parquet), Buffer.from(renderAnalystFiles(rows, PARQUET_LAYOUT).parquet));
    assert.equal(Buffer.from(files.csv).toString('utf8'), decisionsToCsv(rows));
  });

  it('rejects a pending finish after dispose', async () => {
    const builder = new AnalystFilesBuilder(PARQUET_LAYOUT);
    for (const row of rows) builder.add(row);
    const pending = builder.finish();
    builder.dispose();
    await assert.rejects(pending, /export failed/);
  });

  it('rejects finish after dispose', async () => {
    const builder = new AnalystFilesBuilder(PARQUET_LAYOUT);
    for (const row of rows.slice(0, 10)) builder.add(row);
    builder.dispose();
    await assert.rejects(builder.finish(), /export failed/);
  });
});

describe('AnalystParquetWriter', () => {
  const rows = Array.from({ length: 2500 }, (_, i) => toAnalystRow(line({ id: `decision-${i}`, ledgerSeq: 100 + i, score: i / 2500, requestId: i % 5 === 0 ? null : `loan-${i}` })));

  /** Adds the rows in uneven batches, as an export's reads deliver them. */
  function writeInBatches(layout: ParquetLayout): Uint8Array {
    const writer = new AnalystParquetWriter(layout);
    for (const [start, end] of [[0, 7], [7, 1000], [1000, 1001], [1001, 2499], [2499, 2500]]) {
      const batch = toColumnBatch(rows.slice(start, end));
      writer.add(batch);
    }
    return writer.finish();
  }

  function toColumnBatch(batch: AnalystRow[]) {
    const columns = Object.fromEntries(Object.keys(batch[0] ?? rows[0]).map((name) => [name, batch.map((row) => row[name as keyof AnalystRow])]));
    return columns as Parameters<AnalystParquetWriter['add']>[0];
  }

  it('writes the bytes of the one-shot writer for the legacy layout', () => {
    const text = (name: keyof AnalystRow) => ({ name, data: rows.map((row) => row[name] as string | null), type: 'STRING' as const });
    const oneShot = parquetWriteBuffer({
      columnData: [
        text('id'),
        text('tenant'),
        text('use_case'),
        text('request_id'),
        text('actor'),
        text('outcome'),
        { name: 'score', data: rows.map((row) => row.score), type: 'DOUBLE' },
        text('model_version'),
        { name: 'created_at', data: rows.map((row) => new Date(row.created_at)), type: 'TIMESTAMP' },
        { name: 'ledger_seq', data: rows.map((row) => BigInt(row.ledger_seq)), type: 'INT64' },
        text('ledger_hash'),
        text('record_digest'),
        text('review_status'),
        text('reason_codes'),
      ],
    });
    assert.deepEqual(Buffer.from(writeInBatches(LEGACY_PARQUET_LAYOUT)), Buffer.from(oneShot));
  });

  it('splits rows into the given row groups', async () => {
    const bytes = writeInBatches({ ...PARQUET_LAYOUT, rowGroups: [700] });
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const metadata = parquetMetadata(file);
    assert.deepEqual(metadata.row_groups.map((group) => Number(group.num_rows)), [700, 700, 700, 400]);
    const chunks = metadata.row_groups[0].columns.map((column) => column.meta_data);
    assert.ok(chunks.every((chunk) => chunk?.codec === 'UNCOMPRESSED'), 'every column chunk is uncompressed');
    const withStatistics = chunks.filter((chunk) => chunk?.statistics?.max_value !== undefined).map((chunk) => chunk?.path_in_schema.join('.'));
    assert.deepEqual(withStatistics, ['score', 'created_at', 'ledger_seq']);
    const read = await parquetReadObjects({ file });
    assert.equal(read.length, 2500);
    assert.equal(read[2499].id, 'decision-2499');
    assert.equal(read[1400].request_id, null);
  });

  it('rejects a layout without positive sizes', () => {
    assert.throws(() => new AnalystParquetWriter({ ...PARQUET_LAYOUT, rowGroups: [] }), /positive integers/);
    assert.throws(() => new AnalystParquetWriter({ ...PARQUET_LAYOUT, rowGroups: [0] }), /positive integers/);
  });
});
