import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { digestJson } from '../../../common/src/index.js';
import { datasetPeriodConflicts, parseRetentionPolicy, purgeCutoff, retentionMinimumEnds, type RetentionRule } from './retention-rules.js';

const rule = (purgeAfterMonths: number): RetentionRule => ({ useCase: 'x', minimumMonths: 1, purgeAfterMonths, source: 's' });

describe('purgeCutoff', () => {
  it('goes back whole calendar months', () => {
    assert.equal(purgeCutoff(rule(26), new Date('2028-05-16T10:00:00.000Z')).toISOString(), '2026-03-16T10:00:00.000Z');
  });

  it('clamps to the end of a shorter month', () => {
    assert.equal(purgeCutoff(rule(1), new Date('2027-03-31T12:00:00.000Z')).toISOString(), '2027-02-28T12:00:00.000Z');
    assert.equal(purgeCutoff(rule(1), new Date('2028-03-31T12:00:00.000Z')).toISOString(), '2028-02-29T12:00:00.000Z');
  });

  it('crosses year boundaries', () => {
    assert.equal(purgeCutoff(rule(25), new Date('2028-01-10T00:00:00.000Z')).toISOString(), '2025-12-10T00:00:00.000Z');
  });
});

describe('retentionMinimumEnds', () => {
  const rule: RetentionRule = { useCase: 'x', minimumMonths: 25, purgeAfterMonths: 26, source: 's' };

  it('adds whole calendar months', () => {
    assert.equal(retentionMinimumEnds(rule, new Date('2026-03-15T10:00:00.000Z')).toISOString(), '2028-04-15T10:00:00.000Z');
  });

  it('clamps to the end of a shorter month', () => {
    assert.equal(retentionMinimumEnds({ ...rule, minimumMonths: 1 }, new Date('2027-01-31T00:00:00.000Z')).toISOString(), '2027-02-28T00:00:00.000Z');
  });
});

describe('parseRetentionPolicy placeholderVault', () => {
  const base = 'version: 1\nrules:\n  x: { minimumMonths: 1, purgeAfterMonths: 2, source: s }\n';

  it('reads the vault rule into the policy hash', () => {
    const without = parseRetentionPolicy(base);
    const withVault = parseRetentionPolicy(`${base}placeholderVault: { purgeAfterMonths: 6, source: GDPR Art. 5(1)(e) }\n`);
    assert.deepEqual(withVault.placeholderVault, { purgeAfterMonths: 6, source: 'GDPR Art. 5(1)(e)' });
    assert.equal(without.placeholderVault, undefined);
    assert.notEqual(withVault.hash, without.hash);
  });

  it('rejects a vault rule without months or source', () => {
    assert.throws(() => parseRetentionPolicy(`${base}placeholderVault: { purgeAfterMonths: 0, source: s }\n`), /placeholderVault\.purgeAfterMonths must be/);
    assert.throws(() => parseRetentionPolicy(`${base}placeholderVault: { purgeAfterMonths: 6 }\n`), /placeholderVault\.source must name/);
  });
});

describe('parseRetentionPolicy legalHoldText', () => {
  const base = 'version: 1\nrules:\n  x: { minimumMonths: 1, purgeAfterMonths: 2, source: s }\n';

  it('reads the hold text rule into the policy hash', () => {
    const vault = 'placeholderVault: { purgeAfterMonths: 6, source: v }\n';
    const withVault = parseRetentionPolicy(`${base}${vault}`);
    const withBoth = parseRetentionPolicy(`${base}${vault}legalHoldText: { purgeAfterMonths: 12, source: GDPR Art. 5(1)(e) }\n`);
    assert.deepEqual(withBoth.legalHoldText, { purgeAfterMonths: 12, source: 'GDPR Art. 5(1)(e)' });
    assert.equal(withVault.legalHoldText, undefined);
    assert.notEqual(withBoth.hash, withVault.hash);
  });

  it('keeps the hash of a policy without it', () => {
    const withVault = parseRetentionPolicy(`${base}placeholderVault: { purgeAfterMonths: 6, source: v }\n`);
    assert.equal(withVault.hash, digestJson({ rules: withVault.rules, placeholderVault: withVault.placeholderVault }));
    assert.equal(parseRetentionPolicy(base).hash, digestJson(parseRetentionPolicy(base).rules));
  });

  it('rejects a hold text rule without months or source', () => {
    assert.throws(() => parseRetentionPolicy(`${base}legalHoldText: { purgeAfterMonths: 0, source: s }\n`), /legalHoldText\.purgeAfterMonths must be/);
    assert.throws(() => parseRetentionPolicy(`${base}legalHoldText: { purgeAfterMonths: 12 }\n`), /legalHoldText\.source must name/);
  });
});

describe('parseRetentionPolicy datasets', () => {
  const base = 'version: 1\nrules:\n  x: { minimumMonths: 1, purgeAfterMonths: 2, source: s }\n';

  it('reads dataset rules into the policy hash', () => {
    const without = parseRetentionPolicy(base);
    const withDatasets = parseRetentionPolicy(`${base}datasets:\n  paysim-transactions: { minimumMonths: 60, purgeAfterMonths: 61, source: " 31 CFR 1010.430(d) " }\n`);
    assert.deepEqual(withDatasets.datasets, [{ dataset: 'paysim-transactions', minimumMonths: 60, purgeAfterMonths: 61, source: '31 CFR 1010.430(d)' }]);
    assert.equal(without.datasets, undefined);
    assert.notEqual(withDatasets.hash, without.hash);
    assert.equal(without.hash, digestJson(without.rules));
  });

  const invalid: [string, string, RegExp][] = [
    ['a list', 'datasets: [paysim-transactions]\n', /: Invalid policies\/retention\.yaml: datasets must map each dataset name to \{ minimumMonths, purgeAfterMonths, source \}$/],
    ['a name that is no dataset name', 'datasets:\n  Pay_Sim: { minimumMonths: 1, purgeAfterMonths: 1, source: s }\n', /datasets\.Pay_Sim is not a dataset name; use the `dataset` of a file in policies\/datasets/],
    ['zero months', 'datasets:\n  d: { minimumMonths: 0, purgeAfterMonths: 1, source: s }\n', /datasets\.d\.minimumMonths must be a whole number of months from 1 to 1200$/],
    ['fractional months', 'datasets:\n  d: { minimumMonths: 1, purgeAfterMonths: 1.5, source: s }\n', /datasets\.d\.purgeAfterMonths must be a whole number of months from 1 to 1200$/],
    ['a purge before the minimum', 'datasets:\n  d: { minimumMonths: 60, purgeAfterMonths: 12, source: s }\n', /datasets\.d\.purgeAfterMonths \(12\) is below minimumMonths \(60\); raise it to at least 60$/],
    ['no source', 'datasets:\n  d: { minimumMonths: 1, purgeAfterMonths: 1 }\n', /datasets\.d\.source must name the law or policy behind minimumMonths$/],
    ['an empty rule', 'datasets:\n  d:\n', /datasets\.d\.minimumMonths must be/],
    ['a rule that is text', 'datasets:\n  d: 61 months\n', /datasets\.d must be a mapping of minimumMonths, purgeAfterMonths, source$/],
    ['an unknown field', 'datasets:\n  d: { minimumMonths: 1, purgeAfterMonths: 2, purgeAfterDays: 3, source: s }\n', /datasets\.d\.purgeAfterDays is not a rule field; use minimumMonths, purgeAfterMonths, source$/],
  ];
  for (const [name, section, message] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseRetentionPolicy(`${base}${section}`), message);
    });
  }

  it('rejects a misspelt field of a use-case rule', () => {
    assert.throws(
      () => parseRetentionPolicy('version: 1\nrules:\n  x: { minimumMonths: 1, purgeAfterMonth: 2, purgeAfterMonths: 2, source: s }\n'),
      /rules\.x\.purgeAfterMonth is not a rule field; use minimumMonths, purgeAfterMonths, source$/,
    );
  });
});

describe('parseRetentionPolicy otherDeadLetters', () => {
  const base = 'version: 1\nrules:\n  x: { minimumMonths: 1, purgeAfterMonths: 2, source: s }\n';

  it('reads the dead letter rule into the policy hash', () => {
    const without = parseRetentionPolicy(base);
    const withRule = parseRetentionPolicy(`${base}otherDeadLetters: { purgeAfterMonths: 6, source: " GDPR Art. 5(1)(e) " }\n`);
    assert.deepEqual(withRule.otherDeadLetters, { purgeAfterMonths: 6, source: 'GDPR Art. 5(1)(e)' });
    assert.equal(without.otherDeadLetters, undefined);
    assert.equal(withRule.hash, digestJson({ rules: withRule.rules, otherDeadLetters: withRule.otherDeadLetters }));
  });

  const invalid: [string, string, RegExp][] = [
    ['zero months', 'otherDeadLetters: { purgeAfterMonths: 0, source: s }\n', /otherDeadLetters\.purgeAfterMonths must be a whole number of months from 1 to 1200$/],
    ['no source', 'otherDeadLetters: { purgeAfterMonths: 6 }\n', /otherDeadLetters\.source must name the law or policy behind the period$/],
    ['a rule that is text', 'otherDeadLetters: 6 months\n', /otherDeadLetters must be a mapping of purgeAfterMonths, source$/],
    ['an unknown field', 'otherDeadLetters: { purgeAfterMonths: 6, minimumMonths: 1, source: s }\n', /otherDeadLetters\.minimumMonths is not a rule field; use purgeAfterMonths, source$/],
    ['an unknown vault field', 'placeholderVault: { purgeAfterDays: 6, purgeAfterMonths: 6, source: s }\n', /placeholderVault\.purgeAfterDays is not a rule field; use purgeAfterMonths, source$/],
    [
      'a misspelt section',
      'otherDeadletters: { purgeAfterMonths: 6, source: s }\n',
      /otherDeadletters is not a section of the retention policy; use version, rules, datasets, placeholderVault, legalHoldText, otherDeadLetters$/,
    ],
  ];
  for (const [name, section, message] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseRetentionPolicy(`${base}${section}`), message);
    });
  }
});

describe('datasetPeriodConflicts', () => {
  const policy = parseRetentionPolicy(`version: 1
rules:
  payment-fraud: { minimumMonths: 60, purgeAfterMonths: 61, source: s }
  credit-application: { minimumMonths: 25, purgeAfterMonths: 26, source: s }
datasets:
  paysim-transactions: { minimumMonths: 60, purgeAfterMonths: 60, source: s }
  german-credit: { minimumMonths: 25, purgeAfterMonths: 30, source: s }
`);
  const linked = (dataset: string): string[] => (dataset === 'paysim-transactions' ? ['payment-fraud'] : ['credit-application', 'unruled']);

  it('names a dataset purged before its use case', () => {
    assert.deepEqual(datasetPeriodConflicts(policy, linked), [
      { dataset: 'paysim-transactions', useCase: 'payment-fraud', datasetPurgeAfterMonths: 60, useCasePurgeAfterMonths: 61 },
    ]);
  });

  it('finds none without dataset rules', () => {
    assert.deepEqual(datasetPeriodConflicts(parseRetentionPolicy('version: 1\nrules: {}\n'), linked), []);
  });
});
