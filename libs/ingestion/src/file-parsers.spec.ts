import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BadUserInputError, sha256Hex } from '../../common/src/index.js';
import { loadDatasetDefinitions, type DatasetDefinition } from './dataset-definition.js';
import { parseCsv, parseFile, parseGermanData, parseJsonl, rowKey } from './file-parsers.js';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
const definition = loadDatasetDefinitions(resolve(REPO_ROOT, 'policies')).get('german-credit') as DatasetDefinition;
const DATA_LINE = 'A11 6 A34 A43 1169 A65 A75 4 A93 A101 4 A121 67 A143 A152 2 A173 1 A192 A201 1';
const CSV_HEADER =
  'checking_status,duration_months,credit_history,purpose,credit_amount,savings_status,employment_since,installment_rate_pct,personal_status_sex,other_debtors,residence_since,property,age_years,other_installment_plans,housing,existing_credits,job,num_dependents,telephone,foreign_worker,class_1good_2bad';
const CSV_LINE = DATA_LINE.replaceAll(' ', ',');

const workDir = mkdtempSync(join(tmpdir(), 'warden-parsers-'));
after(() => rmSync(workDir, { recursive: true, force: true }));

describe('parseGermanData', () => {
  it('maps columns and derives keys', () => {
    const rows = parseGermanData(`${DATA_LINE}\n\n${DATA_LINE}\n`, definition);
    assert.equal(rows.length, 2);
    assert.equal(rows[0].row, 1);
    assert.equal(rows[1].row, 3);
    const first = rows[0].value as Record<string, string>;
    assert.equal(first.application_id, 'GC-0001');
    assert.equal(first.checking_status, 'A11');
    assert.equal(first.credit_amount, '1169');
    assert.equal(first.credit_risk, '1');
    assert.equal((rows[1].value as Record<string, string>).application_id, 'GC-0002');
  });

  it('reports a line with missing columns', () => {
    const rows = parseGermanData('A11 6 A34\n', definition);
    assert.deepEqual(rows[0].parseErrors, [{ field: 'record', message: 'line 1 has 3 columns, but the mapping expects 21' }]);
  });
});

describe('parseCsv', () => {
  it('renames the label column and derives keys', () => {
    const rows = parseCsv(`${CSV_HEADER}\n${CSV_LINE}\n${CSV_LINE}\n`, definition);
    assert.equal(rows.length, 2);
    assert.equal(rows[0].row, 2);
    const first = rows[0].value as Record<string, string>;
    assert.equal(first.application_id, 'GC-0001');
    assert.equal(first.credit_risk, '1');
    assert.equal(first.class_1good_2bad, undefined);
    assert.equal((rows[1].value as Record<string, string>).application_id, 'GC-0002');
  });

  it('leaves empty cells out', () => {
    const rows = parseCsv(`${CSV_HEADER}\n${CSV_LINE.replace(/,1$/, ',')}\n`, definition);
    assert.equal((rows[0].value as Record<string, string>).credit_risk, undefined);
  });

  it('reports a row with too few cells', () => {
    const rows = parseCsv(`${CSV_HEADER}\nA11,6\n`, definition);
    assert.deepEqual(rows[0].parseErrors, [{ field: 'record', message: 'line 2 has 2 columns, but the mapping expects 21' }]);
  });

  it('rejects broken quoting', () => {
    assert.throws(
      () => parseCsv('a,b\n"1,2\n', definition, 'broken.csv'),
      (error: unknown) => error instanceof BadUserInputError && error.message === 'broken.csv is not valid CSV at line 2 (CSV_QUOTE_NOT_CLOSED).',
    );
  });
});

describe('parseJsonl', () => {
  it('keeps a malformed line as a row', () => {
    const rows = parseJsonl('{"application_id":"A-1"}\n\n{"application_id": \n[1]\n', definition);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[0], { row: 1, value: { application_id: 'A-1' } });
    assert.equal(rows[1].row, 3);
    assert.equal(rows[1].value, '{"application_id": ');
    assert.deepEqual(rows[1].parseErrors, [{ field: 'record', message: 'line 3 is not valid JSON; each line must contain one JSON object' }]);
    assert.deepEqual(rows[2], { row: 4, value: [1] });
  });
});

describe('parseFile', () => {
  it('picks the format by extension', () => {
    const path = join(workDir, 'sample.data');
    writeFileSync(path, `${DATA_LINE}\n`);
    const parsed = parseFile(path, definition);
    assert.equal(parsed.format, 'data');
    assert.equal(parsed.fileName, 'sample.data');
    assert.equal(parsed.sha256, sha256Hex(`${DATA_LINE}\n`));
    assert.equal(parsed.rows.length, 1);

    const ndjson = join(workDir, 'sample.ndjson');
    writeFileSync(ndjson, '{"a":1}\n');
    assert.equal(parseFile(ndjson, definition).format, 'jsonl');
  });

  it('honours an explicit format', () => {
    const path = join(workDir, 'export.txt');
    writeFileSync(path, `${CSV_HEADER}\n${CSV_LINE}\n`);
    assert.equal(parseFile(path, definition, 'csv').rows.length, 1);
  });

  it('rejects an unknown extension', () => {
    const path = join(workDir, 'export.xlsx');
    writeFileSync(path, 'x');
    assert.throws(
      () => parseFile(path, definition),
      (error: unknown) => error instanceof BadUserInputError && error.fieldErrors[0]?.field === 'format',
    );
  });

  it('rejects a missing file', () => {
    assert.throws(
      () => parseFile(join(workDir, 'absent.csv'), definition),
      (error: unknown) => error instanceof BadUserInputError && error.message === `Cannot read ${join(workDir, 'absent.csv')} (ENOENT).`,
    );
  });
});

describe('rowKey', () => {
  it('pads to the minimum digits', () => {
    assert.equal(rowKey({ prefix: 'GC-', digits: 4 }, 7), 'GC-0007');
    assert.equal(rowKey({ prefix: 'GC-', digits: 4 }, 12345), 'GC-12345');
  });
});
