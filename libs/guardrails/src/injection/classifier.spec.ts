import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadUserInputError } from '../../../common/src/index.js';
import { classifierVerdict, parseClassifierSettings } from './classifier.js';

describe('parseClassifierSettings', () => {
  it('applies defaults', () => {
    assert.deepEqual(parseClassifierSettings('modelDir: models/injection\n', 'inline'), {
      modelDir: 'models/injection',
      injectionLabel: undefined,
      thresholds: { flag: 0.5, block: 0.9 },
      maxTokens: 512,
    });
  });

  it('names each invalid field', () => {
    try {
      parseClassifierSettings('thresholds: { flag: 0.9, block: 0.5 }\nonError: flag\nmaxTokens: 2\n', 'inline');
      assert.fail('expected BadUserInputError');
    } catch (error) {
      assert.ok(error instanceof BadUserInputError);
      assert.deepEqual(error.fieldErrors.map((item) => item.field), ['/modelDir', '/thresholds', '/onError', '/maxTokens']);
    }
  });
});

describe('classifierVerdict', () => {
  const settings = { modelDir: 'm', injectionLabel: undefined, thresholds: { flag: 0.5, block: 0.9 }, maxTokens: 64 };

  it('maps scores to verdicts at the thresholds', () => {
    assert.equal(classifierVerdict(0.49, settings), 'pass');
    assert.equal(classifierVerdict(0.5, settings), 'flag');
    assert.equal(classifierVerdict(0.9, settings), 'block');
  });
});
