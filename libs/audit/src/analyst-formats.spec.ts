import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import {
  analystBatches,
  AnalystBatchBuilder,
  AnalystParquetWriter,
  decodeAnalystBatch,
  ANALYST_LAYOUT,
  ANALYST_LAYOUT_V2,
  ANALYST_LAYOUT_V4,
  isoTimeMillis,
  UtcDays,
  type AnalystLayout,
} from './analyst-encoding.js';
import {
  AnalystFilesBuilder,
  analystLayoutFor,
  decisionsToCsv,
  decisionsToParquet,
  FinalReviews,
  renderAnalystFiles,
  toAnalystRow,
  type AnalystRow,
  type FinalReview,
} from './analyst-formats.js';
import type { DecisionLine } from './bundle-format.js';
import type { LedgerEntry } from './ledger-hash.js';

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

/**
 * Asserts equal bytes and names the first difference. assert.deepEqual would print a diff, which
 * for two files of this size takes gigabytes of memory.
 */
function assertSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  if (Buffer.compare(actual, expected) === 0) return;
  let offset = 0;
  while (offset < actual.length && offset < expected.length && actual[offset] === expected[offset]) offset++;
  assert.fail(`the ${actual.length} bytes differ from the ${expected.length} expected ones at offset ${offset}`);
}

const REVIEW: FinalReview = { seq: 57, tenant: 'bank-a', outcome: 'APPROVE', decidedAt: '2026-12-05T08:30:00.000Z' };

describe('decisionsToCsv', () => {
  it('writes a header and one row', () => {
    const csv = decisionsToCsv([toAnalystRow(line())], ANALYST_LAYOUT);
    const [header, row, end] = csv.split('\r\n');
    assert.equal(
      header,
      'id,tenant,use_case,request_id,actor,outcome,score,model_version,created_at,ledger_seq,ledger_hash,record_digest,review_status,reason_codes,review_outcome,reviewed_at',
    );
    assert.equal(row, `7b0e1c1e-0000-4000-8000-000000000001,bank-a,credit-application,loan-1,loan-app,DECLINE,0.625,credit-application@1,2026-12-04T10:00:00.123Z,42,${'a'.repeat(64)},${'b'.repeat(64)},NOT_REQUIRED,RB21;RB02,,`);
    assert.equal(end, '');
  });

  it('writes the final review of a reviewed decision', () => {
    const csv = decisionsToCsv([toAnalystRow(line({ outcome: 'REFER', record: { reviewStatus: 'PENDING', reasonCodes: [] } }), REVIEW)], ANALYST_LAYOUT);
    assert.ok(csv.endsWith(',REFER,0.625,credit-application@1,2026-12-04T10:00:00.123Z,42,' + `${'a'.repeat(64)},${'b'.repeat(64)},PENDING,,APPROVE,2026-12-05T08:30:00.000Z\r\n`), csv);
  });

  it('leaves the review columns out of the v5 layout', () => {
    const csv = decisionsToCsv([toAnalystRow(line(), REVIEW)], ANALYST_LAYOUT_V4);
    const [header, row] = csv.split('\r\n');
    assert.equal(header, 'id,tenant,use_case,request_id,actor,outcome,score,model_version,created_at,ledger_seq,ledger_hash,record_digest,review_status,reason_codes');
    assert.ok(row.endsWith(',NOT_REQUIRED,RB21;RB02'), row);
  });

  it('quotes separators and quotes', () => {
    const csv = decisionsToCsv([toAnalystRow(line({ requestId: 'a,"b"\nc' }))], ANALYST_LAYOUT);
    assert.ok(csv.includes(',"a,""b""\nc",'), csv);
  });

  it('guards cells that spreadsheets evaluate', () => {
    const csv = decisionsToCsv([toAnalystRow(line({ actor: '=HYPERLINK("x")', requestId: '@sum' }))], ANALYST_LAYOUT);
    assert.ok(csv.includes(`"'=HYPERLINK(""x"")"`), csv);
    assert.ok(csv.includes(",'@sum,"), csv);
  });

  it('leaves a null request id empty', () => {
    const row: AnalystRow = toAnalystRow(line({ requestId: null }));
    assert.ok(decisionsToCsv([row], ANALYST_LAYOUT).includes(',,loan-app,'));
  });
});

describe('decisionsToParquet', () => {
  it('round-trips through a Parquet reader', async () => {
    const rows = [toAnalystRow(line()), toAnalystRow(line({ id: 'second', ledgerSeq: 43, score: 0.1, requestId: null }), REVIEW)];
    const bytes = decisionsToParquet(rows, ANALYST_LAYOUT);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const read = await parquetReadObjects({ file });

    assert.equal(read.length, 2);
    assert.equal(read[0].id, '7b0e1c1e-0000-4000-8000-000000000001');
    assert.equal(read[0].score, 0.625);
    assert.equal(read[1].ledger_seq, 43n);
    assert.equal(read[1].request_id, null);
    assert.equal((read[0].created_at as Date).toISOString(), '2026-12-04T10:00:00.123Z');
    assert.equal(read[0].reason_codes, 'RB21;RB02');
    assert.equal(read[0].review_outcome, null);
    assert.equal(read[0].reviewed_at, null);
    assert.equal(read[1].review_outcome, 'APPROVE');
    assert.equal((read[1].reviewed_at as Date).toISOString(), '2026-12-05T08:30:00.000Z');
  });

  it('writes the same bytes for the same rows', () => {
    const rows = [toAnalystRow(line())];
    assertSameBytes(decisionsToParquet(rows, ANALYST_LAYOUT), decisionsToParquet(rows, ANALYST_LAYOUT));
  });
});

describe('AnalystFilesBuilder', () => {
  const lines = Array.from({ length: 2500 }, (_, i) => line({ id: `decision-${i}`, ledgerSeq: 100 + i, score: i / 2500, requestId: i % 7 === 0 ? null : `=loan-${i}` }));
  const reviews = lines.map((_, i): FinalReview | undefined =>
    i % 4 === 0 ? { seq: 5000 + i, tenant: 'bank-a', outcome: i % 8 === 0 ? 'APPROVE' : 'DECLINE', decidedAt: `2026-12-05T08:${String(i % 60).padStart(2, '0')}:00.000Z` } : undefined,
  );
  const rows = lines.map((decision, i) => toAnalystRow(decision, reviews[i]));
  /** Adds lines [start, end) with their reviews. */
  const addLines = (builder: AnalystFilesBuilder, start = 0, end = lines.length): void => {
    for (let i = start; i < end; i += 1) builder.add(lines[i], reviews[i]);
  };

  it('matches rendering in this thread', async () => {
    const builder = new AnalystFilesBuilder(ANALYST_LAYOUT);
    addLines(builder);
    const inWorker = await builder.finish();
    const inThread = renderAnalystFiles(rows, ANALYST_LAYOUT);
    assertSameBytes(inWorker.csv, inThread.csv);
    assertSameBytes(inWorker.parquet, inThread.parquet);
  });

  it('reuses its worker for the next export, with the same bytes', async () => {
    const threads: (number | undefined)[] = [];
    const digests: string[] = [];
    for (const layout of [ANALYST_LAYOUT, ANALYST_LAYOUT_V2, ANALYST_LAYOUT]) {
      const builder = new AnalystFilesBuilder(layout);
      threads.push(builder['worker']?.threadId);
      addLines(builder);
      const files = await builder.finish();
      const inThread = renderAnalystFiles(rows, layout);
      assertSameBytes(files.csv, inThread.csv);
      assertSameBytes(files.parquet, inThread.parquet);
      digests.push(createHash('sha256').update(files.parquet).digest('hex'));
    }
    assert.equal(new Set(threads).size, 1, 'one worker served all three');
    assert.equal(digests[0], digests[2]);
    assert.notEqual(digests[0], digests[1]);
  });

  it('leaves a released worker alone on dispose', async () => {
    const done = new AnalystFilesBuilder(ANALYST_LAYOUT);
    addLines(done, 0, 100);
    const firstThread = done['worker']?.threadId;
    await done.finish();

    const next = new AnalystFilesBuilder(ANALYST_LAYOUT);
    assert.equal(next['worker']?.threadId, firstThread, 'the pool gave the worker to the next export');
    // A failed export calls dispose() after finish(); the worker now belongs to the next export.
    done.dispose();
    addLines(next);
    const files = await next.finish();

    assert.equal(next['workerFailure'], undefined);
    assertSameBytes(files.parquet, renderAnalystFiles(rows, ANALYST_LAYOUT).parquet);
  });

  it('writes a header-only CSV without rows', async () => {
    const files = await new AnalystFilesBuilder(ANALYST_LAYOUT).finish();
    assert.equal(Buffer.from(files.csv).toString('utf8'), decisionsToCsv([], ANALYST_LAYOUT));
    assertSameBytes(files.parquet, renderAnalystFiles([], ANALYST_LAYOUT).parquet);
  });

  it('renders in this thread after the worker dies', async () => {
    const builder = new AnalystFilesBuilder(ANALYST_LAYOUT);
    addLines(builder, 0, 1500);
    await builder['worker']?.terminate();
    // Rows added after the worker ended reach the files through the batches kept in this thread.
    await new Promise((resolve) => setTimeout(resolve, 50));
    addLines(builder, 1500);
    const files = await builder.finish();
    assertSameBytes(files.parquet, renderAnalystFiles(rows, ANALYST_LAYOUT).parquet);
    assertSameBytes(files.csv, Buffer.from(decisionsToCsv(rows, ANALYST_LAYOUT), 'utf8'));
  });

  it('rejects a pending finish after dispose', async () => {
    const builder = new AnalystFilesBuilder(ANALYST_LAYOUT);
    addLines(builder);
    const pending = builder.finish();
    builder.dispose();
    await assert.rejects(pending, /export failed/);
  });

  it('rejects finish after dispose', async () => {
    const builder = new AnalystFilesBuilder(ANALYST_LAYOUT);
    addLines(builder, 0, 10);
    builder.dispose();
    await assert.rejects(builder.finish(), /export failed/);
  });
});

describe('AnalystParquetWriter', () => {
  const rows = Array.from({ length: 2500 }, (_, i) =>
    toAnalystRow(
      line({ id: `decision-${i}`, ledgerSeq: 100 + i, score: i / 2500, requestId: i % 5 === 0 ? null : `loan-${i}` }),
      i % 3 === 0 ? { ...REVIEW, outcome: i % 2 ? 'APPROVE' : 'DECLINE', decidedAt: new Date(Date.UTC(2026, 11, 5) + i * 60_000).toISOString() } : undefined,
    ),
  );

  /** Adds the rows in uneven batches, as an export's reads deliver them. */
  function writeInBatches(layout: AnalystLayout): Uint8Array {
    const writer = new AnalystParquetWriter(layout);
    for (const [start, end] of [[0, 7], [7, 1000], [1000, 1001], [1001, 2499], [2499, 2500]]) {
      for (const batch of analystBatches(rows.slice(start, end), 2000)) writer.add(decodeAnalystBatch(batch));
    }
    return writer.finish();
  }

  it('writes the bytes of the one-shot writer for the v2 layout', () => {
    assertSameBytes(writeInBatches(ANALYST_LAYOUT_V2), referenceParquet(rows, ANALYST_LAYOUT_V2));
  });

  it('writes the bytes of the one-shot writer for the v4 layout', () => {
    assertSameBytes(writeInBatches(ANALYST_LAYOUT_V4), referenceParquet(rows, ANALYST_LAYOUT_V4));
  });

  it('writes the bytes of the one-shot writer for the v6 layout', () => {
    assertSameBytes(writeInBatches(ANALYST_LAYOUT), referenceParquet(rows, ANALYST_LAYOUT));
  });

  it('keeps a dictionary that sampling just allows', () => {
    // The writer samples 1,000 of a group's values and encodes the column plain when distinct
    // values make up more than 90% of the sampled bytes. Here 899 sampled values are unique and
    // the other 101 equal the value of every row not sampled, so distinct values make up exactly
    // 90%. The writer then weighs a dictionary, which wins because most rows repeat one value.
    const groupRows = 10_000;
    const sampled = new Set(Array.from({ length: 1000 }, (_, i) => Math.floor((i * (groupRows - 1)) / 999)));
    let unique = 0;
    const requestIds = Array.from({ length: groupRows }, (_, i) => (sampled.has(i) && unique < 899 ? `req-${String(unique++).padStart(6, '0')}` : 'req-xxxxxx'));
    const column = requestIds.map((requestId, i) => ({ ...rows[i % rows.length], request_id: requestId }));
    const layout = { ...ANALYST_LAYOUT, rowGroups: [groupRows] };

    const writer = new AnalystParquetWriter(layout);
    for (const batch of analystBatches(column)) writer.add(decodeAnalystBatch(batch));
    const bytes = writer.finish();
    assertSameBytes(bytes, referenceParquet(column, layout));
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const requestIdChunk = parquetMetadata(file).row_groups[0].columns[3].meta_data;
    assert.ok(requestIdChunk?.encodings.includes('RLE_DICTIONARY'), `request_id encodings: ${requestIdChunk?.encodings.join(', ')}`);
  });

  it('splits rows into the given row groups', async () => {
    const bytes = writeInBatches({ ...ANALYST_LAYOUT, rowGroups: [700] });
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const metadata = parquetMetadata(file);
    assert.deepEqual(metadata.row_groups.map((group) => Number(group.num_rows)), [700, 700, 700, 400]);
    const chunks = metadata.row_groups[0].columns.map((column) => column.meta_data);
    assert.ok(chunks.every((chunk) => chunk?.codec === 'UNCOMPRESSED'), 'every column chunk is uncompressed');
    const withStatistics = chunks.filter((chunk) => chunk?.statistics?.max_value !== undefined).map((chunk) => chunk?.path_in_schema.join('.'));
    assert.deepEqual(withStatistics, ['score', 'created_at', 'ledger_seq', 'reviewed_at']);
    const read = await parquetReadObjects({ file });
    assert.equal(read.length, 2500);
    assert.equal(read[2499].id, 'decision-2499');
    assert.equal(read[1400].request_id, null);
    assert.equal(read[1400].reviewed_at, null);
    assert.equal(read[1401].review_outcome, 'APPROVE');
    assert.equal((read[1401].reviewed_at as Date).toISOString(), new Date(Date.UTC(2026, 11, 5) + 1401 * 60_000).toISOString());
  });

  it('rejects a layout without positive sizes', () => {
    assert.throws(() => new AnalystParquetWriter({ ...ANALYST_LAYOUT, rowGroups: [] }), /positive integers/);
    assert.throws(() => new AnalystParquetWriter({ ...ANALYST_LAYOUT, rowGroups: [0] }), /positive integers/);
  });
});

/**
 * Writes the rows as the encoders before analyst batches did: one call of the Parquet writer with
 * strings, Dates and bigints. A change in these bytes would break the verification of bundles
 * written before.
 */
function referenceParquet(rows: readonly AnalystRow[], layout: AnalystLayout): Uint8Array {
  const textOptions = layout.textStatistics ? {} : { statistics: false };
  const text = (name: keyof AnalystRow): ColumnSource => ({ name, data: rows.map((row) => row[name] as string | null), type: 'STRING', ...textOptions });
  const buffer = parquetWriteBuffer({
    codec: layout.codec,
    rowGroupSize: [...layout.rowGroups],
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
      ...(layout.columns.includes('reviewed_at')
        ? [text('review_outcome'), { name: 'reviewed_at', data: rows.map((row) => (row.reviewed_at === null ? null : new Date(row.reviewed_at))), type: 'TIMESTAMP' } satisfies ColumnSource]
        : []),
    ],
  });
  return new Uint8Array(buffer);
}

/**
 * Decision lines that reach every path of the encoders over 12,000 rows, so both layouts write
 * several row groups. Rows 200 to 299 put quotes, separators and formula starts in one ASCII batch,
 * rows 3000 to 3099 formula starts alone in another, and rows 10,500 to 10,599 non-ASCII text with
 * a lone surrogate in a third. The lines also carry nulls, repeated and unique values, odd numbers
 * and a time before 1970.
 */
function variedLines(count: number): DecisionLine[] {
  let state = 7;
  const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0);
  const hex = (n: number) => createHash('sha256').update(`golden-${n}`).digest('hex');
  const quoted = ['a,b', 'say "hi"', 'line\nbreak', 'cr\rhere', '=1+2', '+sum', '-neg', '@at', '\ttab', "'quoted", ''];
  const formulas = ['=1+2', '+sum', '-neg', '@at', '\ttab', "'quoted"];
  const unicode = ['José', 'Grüße, "ok"', '日本', '😀 emoji', 'lone \ud800', 'ÿ'];
  const scores = [0, -0, 1, 0.1 + 0.2, 1e21, 5e-324, Number.NaN, 0.625];
  const reasons = ['DTI_HIGH', 'THIN_FILE', 'LTV_HIGH'];
  const lines: DecisionLine[] = [];
  for (let i = 0; i < count; i++) {
    const random = next();
    let special: string | undefined;
    if (i >= 200 && i < 300) special = quoted[i % quoted.length];
    if (i >= 3000 && i < 3100) special = formulas[i % formulas.length];
    if (i >= 10_500 && i < 10_600) special = unicode[i % unicode.length];

    let requestId: string | null = `req-${special ?? ''}${i}`;
    if (i >= 5000 && i < 10_000) requestId = `req-${i % 40}`;
    if (i % 7 === 0) requestId = null;

    let reviewStatus: unknown = i % 3 === 0 ? 'PENDING' : 'NOT_REQUIRED';
    if (i % 5 === 0) reviewStatus = undefined;
    if (i % 10 === 0) reviewStatus = 7;

    const codes = [reasons[random % 3], reasons[(random >>> 3) % 3]].slice(0, random % 3);
    let reasonCodes: unknown = i % 2 ? codes.map((code) => ({ code })) : codes;
    if (i % 11 === 0) reasonCodes = 'not-a-list';

    const createdAt = Date.UTC(2026, 2, 1) + i * 997;
    lines.push({
      id: `${hex(i).slice(0, 8)}-${hex(i).slice(8, 12)}-4${hex(i).slice(13, 16)}-8${hex(i).slice(17, 20)}-${hex(i).slice(20, 32)}`,
      tenant: ['bank-a', 'bank-b', 'bank-c'][i % 3],
      useCase: 'credit-application',
      requestId,
      actor: special ?? (i % 2 ? 'loan-app' : 'branch-portal'),
      outcome: ['APPROVE', 'DECLINE', 'REFER'][random % 3],
      score: i % 97 === 0 ? scores[(i / 97) % scores.length] : (random % 10_000) / 10_000,
      modelVersion: i < 6000 ? 'logreg-1.0.0' : 'logreg-1.1.0',
      createdAt: new Date(i === 3 ? -1 : createdAt).toISOString(),
      ledgerSeq: i === 11 ? Number.MAX_SAFE_INTEGER : 1000 + i * 2,
      ledgerHash: hex(i + 1_000_000),
      recordDigest: hex(i + 2_000_000),
      record: { reviewStatus, reasonCodes },
    });
  }
  return lines;
}

/**
 * SHA-256 of the files that the encoders before analyst batches wrote for variedLines(12_000).
 * Verification rebuilds these files from decisions.jsonl, so the bytes must never change.
 */
const EARLIER_DIGESTS = {
  csv: 'a04ddc8a3e308e5e539eb37f208c3561c1051e7d6dff625847d4dddd1ccedef9',
  v4: '92182fe889c22db41c0dcc0de2a8fec3c29cc1f2db85cc5312b41a0e2b088efd',
  legacy: 'c5144741c0071afd4693b3d48b5ec74e0fdf898f78d84b3fd5f282cd5d51a568',
};

/**
 * SHA-256 of the v6 files for variedLines(12_000) with variedReviews, as first written. Verification
 * rebuilds these files, so the bytes must never change.
 */
const V6_DIGESTS = {
  csv: '42c23ae7f5c4ff11d52be8249e1a02207cffbd8cc8821826f5068a789326180a',
  parquet: 'ba05c63d6c4348ec170e3d0ada3a763bf9d82d77cb27023cbac90ae448ea3b74',
};

/** Final reviews for every fourth line of variedLines, with each kind of outcome cell. */
function variedReviews(lines: readonly DecisionLine[]): (FinalReview | undefined)[] {
  const outcomes = ['APPROVE', 'DECLINE', null, 'APPROVE, "after appeal"', '=DECLINE'];
  return lines.map((decision, i) =>
    i % 4 === 0
      ? { seq: decision.ledgerSeq + 1, tenant: decision.tenant, outcome: outcomes[(i / 4) % outcomes.length], decidedAt: new Date(Date.UTC(2026, 2, 2) + i * 1013).toISOString() }
      : undefined,
  );
}

describe('analyst file bytes', () => {
  const lines = variedLines(12_000);
  const reviews = variedReviews(lines);
  const rows = lines.map((decision, i) => toAnalystRow(decision, reviews[i]));
  const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

  // The layouts before v6 leave the review columns out, so the reviews change none of their bytes.
  for (const [name, layout, csvDigest, parquetDigest] of [
    ['v4', ANALYST_LAYOUT_V4, EARLIER_DIGESTS.csv, EARLIER_DIGESTS.v4],
    ['legacy', ANALYST_LAYOUT_V2, EARLIER_DIGESTS.csv, EARLIER_DIGESTS.legacy],
    ['v6', ANALYST_LAYOUT, V6_DIGESTS.csv, V6_DIGESTS.parquet],
  ] as const) {
    it(`builder keeps the ${name} bytes`, async () => {
      const builder = new AnalystFilesBuilder(layout);
      lines.forEach((decision, i) => builder.add(decision, reviews[i]));
      const files = await builder.finish();
      assert.equal(sha256(files.csv), csvDigest);
      assert.equal(sha256(files.parquet), parquetDigest);
    });

    it(`row functions keep the ${name} bytes`, () => {
      assert.equal(sha256(Buffer.from(decisionsToCsv(rows, layout), 'utf8')), csvDigest);
      assert.equal(sha256(decisionsToParquet(rows, layout)), parquetDigest);
      assertSameBytes(decisionsToParquet(rows, layout), referenceParquet(rows, layout));
    });
  }

  it('fallback keeps the bytes', async () => {
    const builder = new AnalystFilesBuilder(ANALYST_LAYOUT_V4);
    await builder['worker']?.terminate();
    lines.forEach((decision, i) => builder.add(decision, reviews[i]));
    const files = await builder.finish();
    assert.equal(sha256(files.csv), EARLIER_DIGESTS.csv);
    assert.equal(sha256(files.parquet), EARLIER_DIGESTS.v4);
  });
});

describe('FinalReviews', () => {
  const decision = line({ id: 'd-1', tenant: 'bank-a', ledgerSeq: 42 });
  function entry(seq: number, overrides: Partial<LedgerEntry> = {}, payload: Record<string, unknown> = {}): LedgerEntry {
    return {
      seq,
      type: 'review.decided',
      tenant: 'bank-a',
      actor: 'reviewer-1',
      payload: { decisionId: 'd-1', finalOutcome: 'APPROVE', ...payload },
      createdAt: `2026-12-05T08:00:${String(seq % 60).padStart(2, '0')}.000Z`,
      prevHash: '0'.repeat(64),
      hash: '1'.repeat(64),
      ...overrides,
    };
  }

  it('takes the review.decided entry with the highest seq', () => {
    const reviews = new FinalReviews([entry(50, {}, { finalOutcome: 'DECLINE' }), entry(55), entry(44, {}, { finalOutcome: 'DECLINE' })]);
    assert.deepEqual(reviews.of(decision), { seq: 55, tenant: 'bank-a', outcome: 'APPROVE', decidedAt: '2026-12-05T08:00:55.000Z' });
  });

  it('ignores entries that do not belong to the decision', () => {
    const reviews = new FinalReviews([
      entry(41),
      entry(42),
      entry(60, { tenant: 'bank-b' }),
      entry(61, { type: 'review.voted' }),
      entry(62, {}, { decisionId: 'd-2' }),
      entry(63, { payload: null as unknown as Record<string, unknown> }),
    ]);
    assert.equal(reviews.of(decision), undefined);
  });

  it('gives a null outcome when finalOutcome is not a string', () => {
    assert.equal(new FinalReviews([entry(43, {}, { finalOutcome: 7 })]).of(decision)?.outcome, null);
  });
});

describe('analystLayoutFor', () => {
  it('names the layout of each bundle format', () => {
    assert.equal(analystLayoutFor('warden.audit-export.v6'), ANALYST_LAYOUT);
    assert.equal(analystLayoutFor('warden.audit-export.v5'), ANALYST_LAYOUT_V4);
    assert.equal(analystLayoutFor('warden.audit-export.v4'), ANALYST_LAYOUT_V4);
    assert.equal(analystLayoutFor('warden.audit-export.v3'), ANALYST_LAYOUT_V2);
    assert.equal(analystLayoutFor('warden.audit-export.v2'), ANALYST_LAYOUT_V2);
  });
});

describe('AnalystBatchBuilder', () => {
  const row = toAnalystRow(line());

  it('rejects a text cell of another type', () => {
    const builder = new AnalystBatchBuilder(10);
    assert.throws(() => builder.addText(42 as unknown as string), /must be a string or null, but id of row 0 is number/);
  });

  it('rejects a row with missing cells', () => {
    const builder = new AnalystBatchBuilder(10);
    builder.addText('only one');
    assert.throws(() => builder.endRow(0.5, 1), /needs 14 text cells, but row 0 has 1/);
  });

  it('rejects a score of another type', () => {
    assert.throws(() => analystBatches([{ ...row, score: '0.5' as unknown as number }]), /number score and ledger seq/);
  });

  it('rejects a row past its capacity', () => {
    const builder = new AnalystBatchBuilder(1);
    for (const value of [row.id, row.tenant, row.use_case, row.request_id, row.actor, row.outcome, row.model_version, row.created_at, row.ledger_hash, row.record_digest, row.review_status, row.reason_codes, row.review_outcome, row.reviewed_at]) {
      builder.addText(value);
    }
    builder.endRow(row.score, row.ledger_seq);
    assert.throws(() => builder.endRow(row.score, row.ledger_seq), /takes at most 1 rows/);
  });
});

describe('isoTimeMillis', () => {
  const times = [
    '2026-03-01T12:34:56.789Z',
    '1969-12-31T23:59:59.999Z',
    '2024-02-29T00:00:00.000Z',
    '2023-02-29T00:00:00.000Z',
    '2026-04-31T10:00:00.000Z',
    '2026-13-01T00:00:00.000Z',
    '2026-01-00T00:00:00.000Z',
    '2026-01-01T24:00:00.000Z',
    '2026-01-01T24:00:00.001Z',
    '2026-01-01T24:30:00.000Z',
    '2026-01-01T23:60:00.000Z',
    '2026-01-01T23:59:60.000Z',
    '0000-01-01T00:00:00.000Z',
    '0099-06-01T00:00:00.000Z',
    '9999-12-31T23:59:59.999Z',
    '2026-01-01T00:00:00.000z',
    '2026-01-01 00:00:00.000Z',
    '+002026-01-01T00:00:00.000Z',
    '2026-01-01T00:00:00Z',
    '2026-0a-01T00:00:00.000Z',
    '2026-01-01T0a:00:00.000Z',
    '2026-01-01T00:00:00.00aZ',
    '-026-01-01T00:00:00.000Z',
    'not a time',
    '',
  ];

  it('reads times as the Date constructor does', () => {
    for (const time of times) assert.ok(Object.is(isoTimeMillis(time, 0, time.length), new Date(time).getTime()), time);
  });

  it('reads times inside a longer text', () => {
    // One UtcDays for all reuses the start of a day when the next time has the same date.
    const days = new UtcDays();
    const text = `prefix${[...times, ...times].join('')}`;
    let start = 'prefix'.length;
    for (const time of [...times, ...times]) {
      assert.ok(Object.is(isoTimeMillis(text, start, time.length, days), new Date(time).getTime()), time);
      start += time.length;
    }
  });
});
