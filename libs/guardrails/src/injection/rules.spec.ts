import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BadUserInputError, NotFoundError } from '../../../common/src/index.js';
import { INJECTION_CATEGORIES, loadInjectionRules, parseInjectionRules } from './rules.js';

/** policies/ of the repository, found from the compiled spec in <outDir>/libs/guardrails/src/injection. */
const POLICY_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', '..', 'policies');

const VALID_RULE = `{ id: sample, category: instruction-override, description: d, weight: 0.5, matchers: [{ pattern: 'x' }] }`;

function ruleSetWith(rule: string, header = 'version: "1"\nthresholds: { flag: 0.5, block: 0.8 }'): string {
  return `${header}\nrules:\n  - ${rule}\n`;
}

/** Returns the field errors that parsing `text` raises. */
function fieldErrorsOf(text: string): string[] {
  try {
    parseInjectionRules(text, 'test.yaml');
  } catch (error) {
    assert.ok(error instanceof BadUserInputError, `unexpected ${String(error)}`);
    return error.fieldErrors.map((fieldError) => `${fieldError.field} ${fieldError.message}`);
  }
  assert.fail('expected BadUserInputError');
}

describe('loadInjectionRules', () => {
  it('loads the policy file', () => {
    const rules = loadInjectionRules(POLICY_DIR);
    assert.match(rules.version, /^\d{4}-\d{2}-\d{2}\.\d+$/);
    assert.ok(rules.rules.length >= 20);
    assert.ok(rules.thresholds.flag < rules.thresholds.block);
    assert.ok(rules.retrievedWeightFactor > 1);
  });

  it('covers every category', () => {
    const categories = new Set(loadInjectionRules(POLICY_DIR).rules.map((rule) => rule.category));
    for (const category of INJECTION_CATEGORIES) assert.ok(categories.has(category), `no rule for ${category}`);
  });

  it('raises NotFoundError without the file', () => {
    const folder = mkdtempSync(join(tmpdir(), 'warden-injection-rules-'));
    try {
      assert.throws(() => loadInjectionRules(folder), NotFoundError);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('parseInjectionRules', () => {
  it('accepts a minimal rule set', () => {
    const rules = parseInjectionRules(ruleSetWith(VALID_RULE), 'test.yaml');
    assert.equal(rules.rules[0].id, 'sample');
    assert.deepEqual(rules.rules[0].sources, ['user', 'retrieved']);
    assert.equal(rules.retrievedWeightFactor, 1);
  });

  it('rejects invalid YAML', () => {
    assert.throws(() => parseInjectionRules('rules: [', 'test.yaml'), BadUserInputError);
  });

  it('rejects an empty rule list', () => {
    assert.deepEqual(fieldErrorsOf('version: "1"\nthresholds: { flag: 0.5, block: 0.8 }\nrules: []'), ['/rules must be a non-empty list']);
  });

  it('rejects block below flag', () => {
    const errors = fieldErrorsOf(ruleSetWith(VALID_RULE, 'version: "1"\nthresholds: { flag: 0.8, block: 0.5 }'));
    assert.deepEqual(errors, ['/thresholds/block must be at least the flag threshold']);
  });

  it('rejects a retrieved factor below 1', () => {
    const errors = fieldErrorsOf(ruleSetWith(VALID_RULE, 'version: "1"\nthresholds: { flag: 0.5, block: 0.8 }\nretrievedWeightFactor: 0.5'));
    assert.deepEqual(errors, ['/retrievedWeightFactor must be a number from 1 to 10']);
  });

  it('rejects an unknown category', () => {
    const errors = fieldErrorsOf(ruleSetWith(VALID_RULE.replace('instruction-override', 'other')));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^\/rules\/0\/category must be one of/);
  });

  it('rejects a weight above 1', () => {
    assert.deepEqual(fieldErrorsOf(ruleSetWith(VALID_RULE.replace('0.5', '1.5'))), ['/rules/0/weight must be a number above 0 and at most 1']);
  });

  it('rejects an invalid regular expression', () => {
    const errors = fieldErrorsOf(ruleSetWith(VALID_RULE.replace(`pattern: 'x'`, `pattern: '(x'`)));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^\/rules\/0\/matchers\/0\/pattern is not a valid regular expression/);
  });

  it('rejects a pattern that matches empty text', () => {
    assert.deepEqual(fieldErrorsOf(ruleSetWith(VALID_RULE.replace(`pattern: 'x'`, `pattern: 'x*'`))), [
      '/rules/0/matchers/0/pattern must not match the empty string',
    ]);
  });

  it('rejects a matcher with two kinds', () => {
    const errors = fieldErrorsOf(ruleSetWith(VALID_RULE.replace(`{ pattern: 'x' }`, `{ pattern: 'x', rawPattern: 'y' }`)));
    assert.deepEqual(errors, ['/rules/0/matchers/0 must have exactly one of pattern, rawPattern, encoded, invisible']);
  });

  it('rejects an unknown encoding', () => {
    const errors = fieldErrorsOf(ruleSetWith(VALID_RULE.replace(`{ pattern: 'x' }`, `{ encoded: rot13, minDecodedLength: 4 }`)));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^\/rules\/0\/matchers\/0\/encoded must be one of base64/);
  });

  it('rejects an unknown source', () => {
    const errors = fieldErrorsOf(ruleSetWith(VALID_RULE.replace('weight: 0.5,', 'weight: 0.5, sources: [email],')));
    assert.deepEqual(errors, ['/rules/0/sources must be a non-empty list of user and retrieved']);
  });

  it('rejects repeated rule ids', () => {
    const text = `version: "1"\nthresholds: { flag: 0.5, block: 0.8 }\nrules:\n  - ${VALID_RULE}\n  - ${VALID_RULE}\n`;
    assert.deepEqual(fieldErrorsOf(text), ['/rules/1/id repeats rule id sample']);
  });
});
