import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { digestJson, FailedPreconditionError } from '../../common/src/index.js';
import { loadDatasetDefinitions } from './dataset-definition.js';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
const GERMAN_CREDIT_FILE = join(REPO_ROOT, 'policies', 'datasets', 'german-credit.yaml');
const temporaryDirs: string[] = [];

function policyDirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-datasets-'));
  temporaryDirs.push(dir);
  mkdirSync(join(dir, 'datasets'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'datasets', name), text);
  return dir;
}

after(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
});

describe('loadDatasetDefinitions', () => {
  it('loads the german-credit definition', () => {
    const definition = loadDatasetDefinitions(join(REPO_ROOT, 'policies')).get('german-credit');
    assert.ok(definition);
    assert.equal(definition.version, '1');
    assert.equal(definition.recordKey, 'application_id');
    assert.equal(definition.label, 'credit_risk');
    assert.equal(Object.keys(definition.schema.properties).length, 22);
    assert.equal(Object.keys(definition.quality.codes).length, 14);
    assert.deepEqual(definition.quality.ranges.age_years, { min: 18, max: 100 });
    assert.equal(definition.mappings.data?.columns?.length, 21);
    assert.equal(definition.mappings.csv?.rename?.class_1good_2bad, 'credit_risk');
  });

  it('hashes the canonical JSON of the file', () => {
    const definition = loadDatasetDefinitions(join(REPO_ROOT, 'policies')).get('german-credit');
    const expected = digestJson(parseYaml(readFileSync(GERMAN_CREDIT_FILE, 'utf8')));
    assert.equal(definition?.definitionHash, expected);
    assert.match(expected, /^[0-9a-f]{64}$/);
  });

  it('returns nothing without a datasets folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'warden-no-datasets-'));
    temporaryDirs.push(dir);
    assert.equal(loadDatasetDefinitions(dir).size, 0);
  });

  it('rejects a range on an unknown field', () => {
    const text = readFileSync(GERMAN_CREDIT_FILE, 'utf8').replace('age_years: { min: 18, max: 100 }', 'age: { min: 18, max: 100 }');
    const dir = policyDirWith({ 'german-credit.yaml': text });
    assert.throws(
      () => loadDatasetDefinitions(dir),
      (error: unknown) =>
        error instanceof FailedPreconditionError && error.message.includes('quality.ranges names age, which is not a schema property'),
    );
  });

  it('rejects an unknown key in the file', () => {
    const dir = policyDirWith({ 'x.yaml': 'dataset: x\nversion: 1\nrecordKey: id\nschema: { type: object, properties: { id: { type: string } }, required: [id] }\nowner: me\n' });
    assert.throws(
      () => loadDatasetDefinitions(dir),
      (error: unknown) => error instanceof FailedPreconditionError && error.message.includes('the file has the unknown key owner'),
    );
  });

  it('rejects a schema that does not compile', () => {
    const dir = policyDirWith({ 'x.yaml': 'dataset: x\nversion: 1\nrecordKey: id\nschema: { type: object, properties: { id: { type: string }, n: { type: integr } }, required: [id] }\n' });
    assert.throws(
      () => loadDatasetDefinitions(dir),
      (error: unknown) => error instanceof FailedPreconditionError && error.message.includes('does not compile as JSON Schema 2020-12'),
    );
  });

  it('rejects one dataset in two files', () => {
    const text = 'dataset: x\nversion: 1\nrecordKey: id\nschema: { type: object, properties: { id: { type: string } }, required: [id] }\n';
    const dir = policyDirWith({ 'a.yaml': text, 'b.yml': text });
    assert.throws(
      () => loadDatasetDefinitions(dir),
      (error: unknown) => error instanceof FailedPreconditionError && error.message.startsWith('Dataset x is defined twice'),
    );
  });
});

describe('event dataset definitions', () => {
  const PAYSIM_FILE = join(REPO_ROOT, 'policies', 'datasets', 'paysim-transactions.yaml');

  it('loads the paysim-transactions events section', () => {
    const definition = loadDatasetDefinitions(join(REPO_ROOT, 'policies')).get('paysim-transactions');
    assert.ok(definition);
    assert.equal(definition.recordKey, 'event_key');
    assert.equal(definition.label, 'is_fraud');
    assert.deepEqual(definition.events, {
      timeField: 'event_time',
      timeFromHourIndex: { field: 'step', epoch: '2026-01-01T00:00:00Z' },
      keyFromRowHash: { prefix: 'PS-' },
    });
  });

  it('rejects an events section naming bad fields', () => {
    const cases: [string, string, RegExp][] = [
      ['timeField: event_time', 'timeField: when', /events.timeField when is not a schema property/],
      ['timeField: event_time', 'timeField: amount', /events.timeField amount must be typed string/],
      ['{ field: step, epoch', '{ field: type, epoch', /events.timeFromHourIndex.field type is not an integer or number schema property/],
      ['epoch: "2026-01-01T00:00:00Z"', 'epoch: "2026-01-01"', /epoch must match pattern/],
    ];
    for (const [from, to, message] of cases) {
      const text = readFileSync(PAYSIM_FILE, 'utf8').replace(from, to);
      assert.notEqual(text, readFileSync(PAYSIM_FILE, 'utf8'), `the replacement of ${from} changed nothing`);
      const dir = policyDirWith({ 'paysim-transactions.yaml': text });
      assert.throws(() => loadDatasetDefinitions(dir), (error: unknown) => error instanceof FailedPreconditionError && message.test(error.message), to);
    }
  });
});
