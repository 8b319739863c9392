import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadDatasetDefinitions } from '../../ingestion/src/index.js';
import { loadFeatureViews, parseFeatureView } from './feature-view.js';

const POLICY_DIR = join(import.meta.dirname, '..', '..', '..', '..', 'policies');
const datasets = loadDatasetDefinitions(POLICY_DIR);

const VIEW = `
view: test-view
version: "1"
source: paysim-transactions
entity: name_dest
bucket: 1h
aggregations:
  - { name: tx_count_1h, function: count, window: 1h }
  - { name: amount_mean_30d, function: mean, field: amount, window: 30d }
inputs: [amount_now]
derived:
  - { name: ratio, expression: "amount_now / amount_mean_30d" }
`;

describe('feature views', () => {
  it('loads the shipped views with hashes', () => {
    const views = loadFeatureViews(POLICY_DIR, datasets);
    assert.deepEqual([...views.keys()].sort(), ['customer-activity', 'payee-activity']);
    for (const view of views.values()) {
      assert.match(view.definitionHash, /^[0-9a-f]{64}$/);
      assert.equal(view.timeField, 'event_time');
      assert.equal(view.maxWindowMs, 30 * 86_400_000);
    }
  });

  it('counts by a required summed field', () => {
    const view = parseFeatureView(VIEW, 'test.yaml', datasets);
    assert.equal(view.countField, 'amount');
    const countOnly = parseFeatureView(VIEW.replace('  - { name: amount_mean_30d, function: mean, field: amount, window: 30d }\n', '').replace(/derived:[\s\S]*$/, ''), 'test.yaml', datasets);
    assert.equal(countOnly.countField, '*');
  });

  it('changes the hash with the content', () => {
    const first = parseFeatureView(VIEW, 'test.yaml', datasets);
    const second = parseFeatureView(VIEW.replace('bucket: 1h', 'bucket: 30m'), 'test.yaml', datasets);
    assert.notEqual(first.definitionHash, second.definitionHash);
  });

  it('rejects bad views with every problem named', () => {
    const cases: [string, RegExp][] = [
      [VIEW.replace('window: 1h', 'window: 90m').replace('bucket: 1h', 'bucket: 1h'), /not a whole number of 1h buckets/],
      [VIEW.replace('entity: name_dest', 'entity: nobody'), /entity nobody is not a field of dataset paysim-transactions/],
      [VIEW.replace('field: amount', 'field: type'), /reads type, which is not typed integer or number/],
      [VIEW.replace('amount_now / amount_mean_30d', 'amount_now / unknown_feature'), /reads unknown_feature, which is not an aggregation/],
      [VIEW.replace('amount_now / amount_mean_30d', 'amount_now +'), /invalid expression/],
      [VIEW.replace('source: paysim-transactions', 'source: german-credit'), /has no events section/],
      [VIEW.replace('bucket: 1h', 'bucket: hourly'), /bucket "hourly" is not a duration/],
      [VIEW.replace('function: count', 'function: median'), /must be equal to one of the allowed values/],
    ];
    for (const [text, message] of cases) {
      assert.throws(() => parseFeatureView(text, 'test.yaml', datasets), message);
    }
  });
});
