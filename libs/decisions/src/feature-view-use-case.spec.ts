import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadFeatureViews, type FeatureVector } from '../../feature-store/src/index.js';
import { loadDatasetDefinitions } from '../../ingestion/src/index.js';
import { checkViewBindings, computeModelInputs, viewVersionMismatch } from './feature-view-use-case.js';
import { loadUseCases, UseCaseConfigError } from './use-case-config.js';

// Compiled to <outDir>/libs/decisions/src, so the repository root is four folders up.
const POLICY_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', 'policies');

const views = loadFeatureViews(POLICY_DIR, loadDatasetDefinitions(POLICY_DIR));
const fraud = loadUseCases(POLICY_DIR).get('payment-fraud')!.config;

/** A policy folder whose payment-fraud use case has `edit` applied to its YAML text. */
function useCaseWith(edit: (text: string) => string): string {
  const folder = mkdtempSync(join(tmpdir(), 'warden-use-case-'));
  cpSync(POLICY_DIR, folder, { recursive: true });
  const file = join(folder, 'use-cases', 'payment-fraud.yaml');
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return folder;
}

function vector(view: string, values: Record<string, number | null>): FeatureVector {
  return { view, viewVersion: '1', viewHash: 'h', entityKey: 'E', asOf: '2026-01-01T00:00:00.000Z', windowEnd: '2026-01-01T00:00:00.000Z', values };
}

describe('feature-view use case config', () => {
  it('binds payment-fraud to the defined views', () => {
    assert.deepEqual(checkViewBindings(fraud, views), []);
  });

  it('names a pinned version the store lacks', () => {
    const config = { ...fraud, featureViews: fraud.featureViews!.map((reference) => ({ ...reference, version: '7' })) };
    const problems = checkViewBindings(config, views);
    assert.equal(problems.length, 2);
    assert.match(problems[0], /pins feature view customer-activity to version 7, but .*customer-activity.yaml defines version 1/);
  });

  it('names an expression input that does not exist', () => {
    const config = { ...fraud, features: { ...fraud.features, computed: [{ name: 'x', expression: 'payee_tx_count_2h + 1', missing: 0 }] } };
    assert.deepEqual(checkViewBindings(config, views), ['features.computed x reads payee_tx_count_2h, which is neither a numeric request field nor a prefixed view feature']);
  });

  it('rejects broken sections with the key to fix', () => {
    const cases: [(text: string) => string, RegExp][] = [
      [(text) => text.replace('entity: name_dest, prefix: payee', 'entity: payee_id, prefix: payee'), /featureViews\[1\]\.entity "payee_id" must be one of request\.entities/],
      [(text) => text.replace('prefix: payee', 'prefix: customer'), /featureViews\[1\]\.prefix must be a distinct name/],
      [(text) => text.replace('expression: "log1p(amount)"', 'expression: "log1p(amount"'), /features\.computed\[0\] \(log_amount\) has an invalid expression: expected "\)"/],
      [(text) => text.replace('missing: 10 }', 'missing: none }'), /balance_share\) needs a finite number as missing/],
      [(text) => text.replace('  asOf: event_time\n', ''), /request\.asOf must name the request field with the event time/],
      [(text) => text.replace(/featureViews:\n(  - .*\n)+/, ''), /request and features\.computed are only allowed together with featureViews/],
      [(text) => text.replace('field: amount, above: 5000000', 'field: balance, above: 5000000'), /review\.thresholds\[1\]\.field must be "score" or a numeric feature/],
      [(text) => text.replace('idField: name_orig', 'idField: amount'), /dataSubject\.idField amount must be one of the request entities \(name_orig, name_dest\)/],
      [(text) => text.replace('idField: name_orig\n  required: true', 'idField: name_orig\n  required: false'), /dataSubject\.required must be true: name_orig is a request entity/],
    ];
    for (const [edit, message] of cases) {
      const folder = useCaseWith(edit);
      try {
        assert.throws(() => loadUseCases(folder), (error: unknown) => error instanceof UseCaseConfigError && message.test(error.message), String(message));
      } finally {
        rmSync(folder, { recursive: true, force: true });
      }
    }
  });
});

describe('computeModelInputs', () => {
  const request = { amount: 1000, old_balance_orig: 1000, old_balance_dest: 0, type: 'TRANSFER', name_orig: 'C1', name_dest: 'C2', event_time: '2026-01-01T05:00:00.000Z' };
  const customer = vector('customer-activity', { tx_count_1h: 0, tx_count_24h: 2, amount_sum_24h: 50, amount_mean_30d: 25, payee_distinct_30d: 1, amount_to_mean_30d: 40 });
  const payee = vector('payee-activity', {
    tx_count_1h: 0,
    tx_count_24h: 0,
    amount_sum_24h: 0,
    amount_mean_30d: null,
    amount_max_30d: null,
    sender_distinct_24h: 0,
    amount_to_mean_30d: null,
    mean_amount_24h: null,
  });

  it('evaluates expressions and fills missing values', () => {
    const inputs = computeModelInputs(fraud, request, [customer, payee]);
    assert.equal(inputs.log_amount, Math.log1p(1000));
    assert.equal(inputs.balance_share, 1);
    assert.equal(inputs.payee_amount_to_mean_30d, 1, 'a payee without history gets the missing value');
    assert.equal(inputs.type, 'TRANSFER');
    assert.equal(Object.keys(inputs).length, 9);
  });

  it('caps a share of a zero balance', () => {
    assert.equal(computeModelInputs(fraud, { ...request, old_balance_orig: 0 }, [customer, payee]).balance_share, 10);
  });
});

describe('viewVersionMismatch', () => {
  const trained = [...views.values()].map((view) => ({ view: view.name, version: view.version, hash: view.definitionHash }));

  it('accepts the trained versions', () => {
    assert.equal(viewVersionMismatch('payment-fraud@1', trained, views), undefined);
  });

  it('names the view and both versions', () => {
    const older = trained.map((entry) => (entry.view === 'payee-activity' ? { ...entry, version: '0', hash: 'a'.repeat(64) } : entry));
    assert.match(viewVersionMismatch('payment-fraud@1', older, views) ?? '', /payment-fraud@1 was trained on feature view payee-activity version 0 \(hash aaaaaaaaaaaa\), but the store serves version 1/);
  });

  it('rejects a model without recorded views', () => {
    assert.match(viewVersionMismatch('payment-fraud@1', undefined, views) ?? '', /records no feature view versions/);
  });
});
