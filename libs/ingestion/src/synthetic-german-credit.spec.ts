import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { BadUserInputError } from '../../common/src/index.js';
import { loadDatasetDefinitions, type DatasetDefinition } from './dataset-definition.js';
import { validateRecords, type DatasetRecord } from './record-validation.js';
import { generateGermanCredit, syntheticLogitBad } from './synthetic-german-credit.js';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
const definition = loadDatasetDefinitions(resolve(REPO_ROOT, 'policies')).get('german-credit') as DatasetDefinition;
const CATEGORICAL = ['checking_status', 'credit_history', 'savings_status', 'purpose'];

/** Area under the ROC curve by the rank-sum formula; ties count half. */
function rocAuc(scores: number[], positives: boolean[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!positives[i]) continue;
    for (let j = 0; j < scores.length; j++) {
      if (positives[j]) continue;
      pairs += 1;
      if (scores[i] > scores[j]) wins += 1;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

/** One-hot codes of four fields plus scaled duration, log amount and age. */
function features(record: DatasetRecord): number[] {
  const row: number[] = [1];
  for (const field of CATEGORICAL) {
    for (const code of Object.keys(definition.quality.codes[field])) row.push(record[field] === code ? 1 : 0);
  }
  row.push((record.duration_months as number) / 12, Math.log(record.credit_amount as number) - 8, (record.age_years as number) / 10);
  return row;
}

/** Plain batch gradient descent on the logistic loss: enough to show the label is learnable. */
function trainLogistic(rows: number[][], labels: number[]): number[] {
  const weights = new Array<number>(rows[0].length).fill(0);
  for (let epoch = 0; epoch < 300; epoch++) {
    const gradient = new Array<number>(weights.length).fill(0);
    rows.forEach((row, index) => {
      const z = row.reduce((sum, value, k) => sum + value * weights[k], 0);
      const error = 1 / (1 + Math.exp(-z)) - labels[index];
      row.forEach((value, k) => (gradient[k] += error * value));
    });
    gradient.forEach((value, k) => (weights[k] -= (0.5 * value) / rows.length));
  }
  return weights;
}

describe('generateGermanCredit', () => {
  it('repeats rows for a seed', () => {
    const first = generateGermanCredit({ rows: 200, seed: 42 });
    const second = generateGermanCredit({ rows: 200, seed: 42 });
    assert.deepEqual(first, second);
    assert.equal(first[0].application_id, 'SYN-000001');
    assert.equal(first[199].application_id, 'SYN-000200');
  });

  it('differs between seeds', () => {
    const first = generateGermanCredit({ rows: 50, seed: 1 });
    const second = generateGermanCredit({ rows: 50, seed: 2 });
    assert.notDeepEqual(first, second);
  });

  it('passes the dataset checks', () => {
    const records = generateGermanCredit({ rows: 2000, seed: 7, keyPrefix: 'T-' });
    const rejected = validateRecords(definition, records).filter((result) => !result.ok);
    assert.deepEqual(rejected, []);
  });

  it('has about 30% bad labels', () => {
    const records = generateGermanCredit({ rows: 5000, seed: 11 });
    const badRate = records.filter((record) => record.credit_risk === 2).length / records.length;
    assert.ok(badRate > 0.25, `bad rate ${badRate}`);
    assert.ok(badRate < 0.35, `bad rate ${badRate}`);
  });

  it('has a learnable label', () => {
    const records = generateGermanCredit({ rows: 3000, seed: 20261204 });
    const train = records.slice(0, 2000);
    const holdout = records.slice(2000);
    const weights = trainLogistic(train.map(features), train.map((record) => (record.credit_risk === 2 ? 1 : 0)));
    const scores = holdout.map((record) => features(record).reduce((sum, value, k) => sum + value * weights[k], 0));
    const positives = holdout.map((record) => record.credit_risk === 2);

    const trainedAuc = rocAuc(scores, positives);
    const trueAuc = rocAuc(holdout.map(syntheticLogitBad), positives);
    assert.ok(trueAuc > 0.7, `AUC of the generating model ${trueAuc}`);
    assert.ok(trainedAuc > 0.65, `AUC of the trained model ${trainedAuc}`);
  });

  it('rejects a bad row count', () => {
    assert.throws(() => generateGermanCredit({ rows: 0, seed: 1 }), BadUserInputError);
    assert.throws(() => generateGermanCredit({ rows: 2.5, seed: 1 }), BadUserInputError);
  });
});
