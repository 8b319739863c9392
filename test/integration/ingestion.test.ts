import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EntityManager } from 'typeorm';
import type { LedgerAppender, LedgerEntryInput, LedgerReceipt } from '../../libs/audit/src/index.js';
import { ConflictError, NotFoundError, digestJson } from '../../libs/common/src/index.js';
import { IngestionService, generateGermanCredit } from '../../libs/ingestion/src/index.js';
import { databaseTargets, REPO_ROOT, sharedDataPath, type TestDatabase } from '../support/databases.js';

const germanData = sharedDataPath('tabular/german_credit_statlog/german.data');
const germanCsv = sharedDataPath('tabular/german_credit_statlog/german_credit.csv');
const GERMAN_DATA_SHA256 = 'e2bc10785808eeb5e30462f0805edb73a672f295bc671dec0bca6e2fb5c8e1ca';
const POLICY_DIR = join(REPO_ROOT, 'policies');

/**
 * A stand-in for the audit ledger that writes each entry to a plain table inside the caller's
 * transaction, so the tests can see that the entry commits or rolls back with the batch.
 */
class TableLedgerAppender implements LedgerAppender {
  failNextAppend = false;

  async append(manager: EntityManager, entry: LedgerEntryInput): Promise<LedgerReceipt> {
    if (this.failNextAppend) {
      this.failNextAppend = false;
      throw new Error('ledger append failed on purpose');
    }
    const rows: { seq: number; created_at: Date }[] = await manager.query(
      'INSERT INTO test_ledger_entries (type, tenant, actor, payload) VALUES ($1, $2, $3, $4::jsonb) RETURNING seq, created_at',
      [entry.type, entry.tenant, entry.actor, JSON.stringify(entry.payload)],
    );
    return { seq: rows[0].seq, hash: digestJson(entry.payload), prevHash: '0'.repeat(64), createdAt: new Date(rows[0].created_at).toISOString() };
  }
}

/** The first two rows of german.data as JSON records. */
const FIRST_RECORD = {
  application_id: 'GC-0001',
  checking_status: 'A11',
  duration_months: 6,
  credit_history: 'A34',
  purpose: 'A43',
  credit_amount: 1169,
  savings_status: 'A65',
  employment_since: 'A75',
  installment_rate_pct: 4,
  personal_status_sex: 'A93',
  other_debtors: 'A101',
  residence_since: 4,
  property: 'A121',
  age_years: 67,
  other_installment_plans: 'A143',
  housing: 'A152',
  existing_credits: 2,
  job: 'A173',
  num_dependents: 1,
  telephone: 'A192',
  foreign_worker: 'A201',
  credit_risk: 1,
};
const SECOND_RECORD = {
  ...FIRST_RECORD,
  application_id: 'GC-0002',
  checking_status: 'A12',
  duration_months: 48,
  credit_history: 'A32',
  credit_amount: 5951,
  savings_status: 'A61',
  employment_since: 'A73',
  installment_rate_pct: 2,
  personal_status_sex: 'A92',
  residence_since: 2,
  age_years: 22,
  existing_credits: 1,
  telephone: 'A191',
  credit_risk: 2,
};

function badRowsJsonl(): string {
  const withoutAmount: Record<string, unknown> = { ...FIRST_RECORD, application_id: 'GC-9004' };
  delete withoutAmount.credit_amount;
  const lines = [
    JSON.stringify({ ...FIRST_RECORD, application_id: 'GC-9001' }),
    JSON.stringify({ ...FIRST_RECORD, application_id: 'GC-9002', checking_status: 'A15' }),
    JSON.stringify({ ...FIRST_RECORD, application_id: 'GC-9003', age_years: 7 }),
    JSON.stringify(withoutAmount),
    '{"application_id": "GC-9005", "checking_status": ',
    JSON.stringify({ ...FIRST_RECORD, application_id: 'GC-9001', purpose: 'A40' }),
    JSON.stringify({ ...FIRST_RECORD, application_id: 'GC-9007', duration_months: '24' }),
    JSON.stringify(FIRST_RECORD),
    JSON.stringify({ ...SECOND_RECORD, credit_amount: 1 }),
  ];
  return `${lines.join('\n')}\n`;
}

for (const target of await databaseTargets()) {
  describe(`ingestion on ${target.name}`, { skip: target.skipReason ?? germanData.skipReason ?? germanCsv.skipReason }, () => {
    let db: TestDatabase;
    let ledger: TableLedgerAppender;
    let service: IngestionService;
    let workDir: string;

    const count = async (sql: string, parameters: unknown[] = []): Promise<number> => {
      const rows: { n: number }[] = await db.database.dataSource.query(sql, parameters);
      return rows[0].n;
    };

    before(async () => {
      db = await target.open();
      await db.database.dataSource.query(
        'CREATE TABLE test_ledger_entries (seq serial PRIMARY KEY, type text, tenant text, actor text, payload jsonb, created_at timestamptz NOT NULL DEFAULT now())',
      );
      ledger = new TableLedgerAppender();
      service = new IngestionService(db.database.dataSource, POLICY_DIR, ledger);
      workDir = mkdtempSync(join(tmpdir(), 'warden-ingestion-'));
    });
    after(async () => {
      await db?.cleanup();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it('stores every german.data row', async () => {
      const result = await service.ingestFile({ tenant: 'bank-a', actor: 'analyst-1', dataset: 'german-credit', path: germanData.path });
      assert.equal(result.accepted, 1000);
      assert.equal(result.quarantined, 0);
      assert.equal(result.duplicates, 0);
      assert.equal(result.dataset, 'german-credit');
      assert.equal(result.datasetVersion, '1');
      assert.deepEqual(result.quarantine, []);
      assert.equal(await count("SELECT count(*)::int AS n FROM ingestion.records WHERE tenant = 'bank-a'"), 1000);

      const [batch] = await db.database.dataSource.query('SELECT * FROM ingestion.batches WHERE id = $1', [result.batchId]);
      assert.equal(batch.source, 'file:german.data');
      assert.equal(batch.accepted, 1000);
      assert.equal(batch.actor, 'analyst-1');
      assert.equal(batch.definition_hash, result.definitionHash);

      const [registered] = await db.database.dataSource.query("SELECT definition_hash FROM ingestion.datasets WHERE name = 'german-credit' AND version = '1'");
      assert.equal(registered.definition_hash, result.definitionHash);
    });

    it('writes a ledger entry without record data', async () => {
      const entries: { type: string; tenant: string; actor: string; payload: Record<string, unknown> }[] = await db.database.dataSource.query(
        'SELECT type, tenant, actor, payload FROM test_ledger_entries ORDER BY seq',
      );
      assert.equal(entries.length, 1);
      const [entry] = entries;
      assert.equal(entry.type, 'ingestion.batch');
      assert.equal(entry.tenant, 'bank-a');
      assert.equal(entry.actor, 'analyst-1');
      assert.equal(entry.payload.accepted, 1000);
      assert.equal(entry.payload.quarantined, 0);
      assert.equal(entry.payload.duplicates, 0);
      assert.equal(entry.payload.datasetVersion, '1');
      assert.deepEqual(entry.payload.sourceFile, { name: 'german.data', sha256: GERMAN_DATA_SHA256, format: 'data' });
      assert.ok(!JSON.stringify(entry.payload).includes('A143'), 'the ledger payload carries record values');
    });

    it('counts a second load as duplicates', async () => {
      const result = await service.ingestFile({ tenant: 'bank-a', actor: 'analyst-1', dataset: 'german-credit', path: germanData.path });
      assert.equal(result.accepted, 0);
      assert.equal(result.duplicates, 1000);
      assert.equal(result.quarantined, 0);
      assert.equal(await count("SELECT count(*)::int AS n FROM ingestion.records WHERE tenant = 'bank-a'"), 1000);
    });

    it('matches CSV keys to german.data keys', async () => {
      const result = await service.ingestFile({ tenant: 'bank-a', actor: 'analyst-1', dataset: 'german-credit', path: germanCsv.path });
      assert.equal(result.accepted, 0);
      assert.equal(result.duplicates, 1000);
      assert.equal(result.quarantined, 0);
    });

    it('quarantines bad JSONL rows', async () => {
      const path = join(workDir, 'applications.jsonl');
      writeFileSync(path, badRowsJsonl());
      const result = await service.ingestFile({ tenant: 'bank-a', actor: 'analyst-2', dataset: 'german-credit', path });

      assert.equal(result.accepted, 2);
      assert.equal(result.duplicates, 1);
      assert.equal(result.quarantined, 6);
      assert.deepEqual(result.quarantine, [
        {
          row: 2,
          recordKey: 'GC-9002',
          errors: [{ field: 'checking_status', message: 'checking_status has the unknown code "A15"; allowed codes are A11, A12, A13, A14' }],
        },
        { row: 3, recordKey: 'GC-9003', errors: [{ field: 'age_years', message: 'age_years is 7, outside the allowed range: 18 to 100' }] },
        { row: 4, recordKey: 'GC-9004', errors: [{ field: 'credit_amount', message: 'credit_amount is missing; every german-credit record requires it' }] },
        { row: 5, recordKey: null, errors: [{ field: 'record', message: 'line 5 is not valid JSON; each line must contain one JSON object' }] },
        {
          row: 6,
          recordKey: 'GC-9001',
          errors: [{ field: 'application_id', message: 'application_id "GC-9001" repeats the key of row 1 in this batch; each record key must be unique' }],
        },
        {
          row: 9,
          recordKey: 'GC-0002',
          errors: [
            {
              field: 'application_id',
              message:
                'application_id "GC-0002" is already stored with different content; a stored record is never overwritten, so send the corrected record under a new key',
            },
          ],
        },
      ]);

      const stored: { record: Record<string, unknown> }[] = await db.database.dataSource.query(
        "SELECT record FROM ingestion.records WHERE tenant = 'bank-a' AND record_key = 'GC-9007'",
      );
      assert.equal(stored[0].record.duration_months, 24);
      const original: { record: Record<string, unknown> }[] = await db.database.dataSource.query(
        "SELECT record FROM ingestion.records WHERE tenant = 'bank-a' AND record_key = 'GC-0002'",
      );
      assert.equal(original[0].record.credit_amount, 5951);
    });

    it('keeps quarantined payloads', async () => {
      const rows: { row_number: number; record_key: string | null; record: unknown; errors: unknown[] }[] = await db.database.dataSource.query(
        `SELECT q.row_number, q.record_key, q.record, q.errors
           FROM ingestion.quarantine q JOIN ingestion.batches b ON b.id = q.batch_id
          WHERE b.source = 'file:applications.jsonl' ORDER BY q.row_number`,
      );
      assert.deepEqual(
        rows.map((row) => row.row_number),
        [2, 3, 4, 5, 6, 9],
      );
      assert.equal(rows[3].record_key, null);
      assert.equal(rows[3].record, '{"application_id": "GC-9005", "checking_status": ');
      assert.deepEqual(rows[0].record, { ...FIRST_RECORD, application_id: 'GC-9002', checking_status: 'A15' });
      assert.equal((rows[5].record as Record<string, unknown>).credit_amount, 1);
      assert.equal(rows[1].errors.length, 1);
    });

    it('keeps tenants apart', async () => {
      const result = await service.ingestFile({ tenant: 'bank-b', actor: 'analyst-9', dataset: 'german-credit', path: germanData.path });
      assert.equal(result.accepted, 1000);
      assert.equal(result.duplicates, 0);

      const bankA = await service.loadTrainingRows('bank-a', 'german-credit');
      const bankB = await service.loadTrainingRows('bank-b', 'german-credit');
      assert.equal(bankA.rowCount, 1002);
      assert.equal(bankB.rowCount, 1000);
      assert.ok(!bankB.records.some((record) => String(record.application_id).startsWith('GC-9')), 'bank-b sees bank-a records');
    });

    it('loads training rows in key order', async () => {
      const rows = await service.loadTrainingRows('bank-a', 'german-credit');
      assert.equal(rows.dataset, 'german-credit');
      assert.deepEqual(rows.datasetVersions, ['1']);
      assert.equal(rows.records.length, 1002);
      assert.equal(rows.records[0].application_id, 'GC-0001');
      assert.equal(rows.records[999].application_id, 'GC-1000');
      assert.equal(rows.records[1001].application_id, 'GC-9007');
      assert.deepEqual(rows.records[0], FIRST_RECORD);

      const fromFile = rows.records.filter((record) => String(record.application_id).startsWith('GC-0') || record.application_id === 'GC-1000');
      assert.equal(fromFile.length, 1000);
      assert.equal(fromFile.filter((record) => record.credit_risk === 2).length, 300);
      assert.match(rows.dataDigest, /^[0-9a-f]{64}$/);

      const again = await service.loadTrainingRows('bank-a', 'german-credit');
      assert.equal(again.dataDigest, rows.dataDigest);
    });

    it('stores in-memory records in chunks', async () => {
      const records = generateGermanCredit({ rows: 1200, seed: 5 });
      const result = await service.ingest({ tenant: 'bank-c', actor: 'demo', dataset: 'german-credit', records, source: 'demo' });
      assert.equal(result.accepted, 1200);
      assert.equal(result.quarantined, 0);
      assert.equal(await count("SELECT count(*)::int AS n FROM ingestion.records WHERE tenant = 'bank-c'"), 1200);
    });

    it('quarantines text jsonb cannot store', async () => {
      const records = [
        { ...FIRST_RECORD, application_id: 'TXT-1' },
        { ...FIRST_RECORD, application_id: 'TXT-2', purpose: '\ud800' },
        { ...FIRST_RECORD, application_id: 'TXT-3', 'bad\u0000key': 1 },
      ];
      const result = await service.ingest({ tenant: 'bank-t', actor: 'demo', dataset: 'german-credit', records, source: 'api' });
      assert.equal(result.accepted, 1, 'the good record of the batch is stored');
      assert.equal(result.quarantined, 2);
      assert.equal(result.quarantine[0].errors[0].field, 'purpose');
      assert.equal(await count("SELECT count(*)::int AS n FROM ingestion.quarantine WHERE tenant = 'bank-t'"), 2);
    });

    it('caps the quarantine details at 100', async () => {
      const records = Array.from({ length: 150 }, (_, index) => ({ ...FIRST_RECORD, application_id: `BAD-${index}`, age_years: 7 }));
      const result = await service.ingest({ tenant: 'bank-c', actor: 'demo', dataset: 'german-credit', records, source: 'api' });
      assert.equal(result.quarantined, 150);
      assert.equal(result.quarantine.length, 100);
      assert.equal(result.quarantine[99].row, 100);
      assert.equal(await count('SELECT count(*)::int AS n FROM ingestion.quarantine WHERE batch_id = $1', [result.batchId]), 150);
    });

    it('rolls back when the ledger append fails', async () => {
      const batchesBefore = await count('SELECT count(*)::int AS n FROM ingestion.batches');
      ledger.failNextAppend = true;
      await assert.rejects(
        service.ingest({ tenant: 'bank-d', actor: 'demo', dataset: 'german-credit', records: [FIRST_RECORD], source: 'api' }),
        /ledger append failed on purpose/,
      );
      assert.equal(await count('SELECT count(*)::int AS n FROM ingestion.batches'), batchesBefore);
      assert.equal(await count("SELECT count(*)::int AS n FROM ingestion.records WHERE tenant = 'bank-d'"), 0);
    });

    it('rejects a changed definition under the same version', async () => {
      const policyDir = mkdtempSync(join(workDir, 'policies-'));
      mkdirSync(join(policyDir, 'datasets'));
      const text = readFileSync(join(POLICY_DIR, 'datasets', 'german-credit.yaml'), 'utf8').replace('age_years: { min: 18, max: 100 }', 'age_years: { min: 21, max: 100 }');
      writeFileSync(join(policyDir, 'datasets', 'german-credit.yaml'), text);
      const changed = new IngestionService(db.database.dataSource, policyDir, ledger);
      await assert.rejects(
        changed.ingest({ tenant: 'bank-a', actor: 'demo', dataset: 'german-credit', records: [FIRST_RECORD], source: 'api' }),
        (error: unknown) => error instanceof ConflictError && error.message.startsWith('Dataset german-credit version 1 is already registered with a different definition'),
      );
    });

    it('rejects an unknown dataset', async () => {
      await assert.rejects(
        service.ingest({ tenant: 'bank-a', actor: 'demo', dataset: 'mortgages', records: [FIRST_RECORD], source: 'api' }),
        (error: unknown) => error instanceof NotFoundError && error.message === 'Dataset mortgages is not defined; defined datasets: german-credit, paysim-transactions.',
      );
    });
  });
}
