import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BadUserInputError, FailedPreconditionError, NotFoundError, sha256Hex } from '../../common/src/index.js';
import type { Attribution } from './linear-shap.js';
import { assertNoProhibitedBasis, assertReasonCodesCover, loadReasonCodeMap, parseReasonCodeMap, selectReasonCodes, type ReasonCodeMap } from './reason-codes.js';

/** policies/ of the repository, found from the compiled spec in <outDir>/libs/explain/src. */
const POLICY_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', 'policies');

const map: ReasonCodeMap = {
  useCase: 'credit-application',
  version: 1,
  reasonCodes: [
    { code: 'RB01', feature: 'checking_status', description: 'Insufficient balance in checking account' },
    { code: 'RB21', feature: 'checking_status', level: 'A11', description: 'Checking account is overdrawn' },
    { code: 'RB02', feature: 'duration_months', description: 'Repayment term requested is too long' },
    { code: 'RB05', feature: 'credit_amount', description: 'Amount of credit requested is too large' },
    { code: 'RB08', feature: 'installment_rate_pct', description: 'Excessive obligations in relation to income' },
    { code: 'RB08', feature: 'num_dependents', description: 'Excessive obligations in relation to income' },
    { code: 'RB07', feature: 'employment_since', description: 'Insufficient length of employment' },
    { code: 'RB11', feature: 'residence_since', description: 'Insufficient length of residence' },
    { code: 'RB09', feature: 'personal_status_sex', prohibitedBasis: true, description: 'Prohibited basis' },
  ],
};

const attribution = (feature: string, contribution: number, value: string | number | null = null): Attribution => ({ feature, value, contribution });

describe('selectReasonCodes', () => {
  it('cites only positive contributions', () => {
    const reasons = selectReasonCodes([attribution('duration_months', 0.4), attribution('credit_amount', 0), attribution('employment_since', -0.9)], map);
    assert.deepEqual(reasons, [{ code: 'RB02', description: 'Repayment term requested is too long', contribution: 0.4 }]);
  });

  it('cites at most four, largest first', () => {
    const reasons = selectReasonCodes(
      [
        attribution('residence_since', 0.1),
        attribution('duration_months', 0.9),
        attribution('credit_amount', 0.5),
        attribution('employment_since', 0.7),
        attribution('checking_status', 0.3, 'A12'),
      ],
      map,
    );
    assert.deepEqual(
      reasons.map((reason) => reason.code),
      ['RB02', 'RB07', 'RB05', 'RB01'],
    );
  });

  it('honours a smaller max', () => {
    assert.equal(selectReasonCodes([attribution('duration_months', 0.9), attribution('credit_amount', 0.5)], map, 1).length, 1);
  });

  it('prefers the entry for the applicant level', () => {
    const [reason] = selectReasonCodes([attribution('checking_status', 1.1, 'A11')], map);
    assert.equal(reason.code, 'RB21');
  });

  it('merges features that share a code', () => {
    const reasons = selectReasonCodes([attribution('installment_rate_pct', 0.25), attribution('num_dependents', 0.5), attribution('credit_amount', 0.6)], map);
    assert.deepEqual(reasons, [
      { code: 'RB08', description: 'Excessive obligations in relation to income', contribution: 0.75 },
      { code: 'RB05', description: 'Amount of credit requested is too large', contribution: 0.6 },
    ]);
  });

  it('returns nothing when no contribution is positive', () => {
    assert.deepEqual(selectReasonCodes([attribution('duration_months', -0.2)], map), []);
  });

  it('rejects a prohibited basis with a positive contribution', () => {
    assert.throws(() => selectReasonCodes([attribution('personal_status_sex', 0.2, 'A92')], map), FailedPreconditionError);
  });

  it('rejects a feature without a reason code', () => {
    assert.throws(() => selectReasonCodes([attribution('telephone', 0.2, 'A191')], map), /no entry for feature telephone/);
  });
});

describe('loadReasonCodeMap', () => {
  const germanCreditFeatures = [
    'checking_status', 'duration_months', 'credit_history', 'purpose', 'credit_amount', 'savings_status', 'employment_since',
    'installment_rate_pct', 'personal_status_sex', 'other_debtors', 'residence_since', 'property', 'age_years',
    'other_installment_plans', 'housing', 'existing_credits', 'job', 'num_dependents', 'telephone', 'foreign_worker',
  ];

  it('loads the credit-application map with its hash', async () => {
    const { map: loaded, sha256 } = await loadReasonCodeMap(POLICY_DIR, 'credit-application');
    assert.equal(loaded.useCase, 'credit-application');
    assert.equal(sha256, sha256Hex(readFileSync(resolve(POLICY_DIR, 'reason-codes', 'credit-application.yaml'))));
    assert.equal(loaded.reasonCodes.find((entry) => entry.feature === 'employment_since' && entry.level === undefined)?.code, 'RB07');
  });

  it('covers every German Credit feature', async () => {
    const { map: loaded } = await loadReasonCodeMap(POLICY_DIR, 'credit-application');
    assert.doesNotThrow(() => assertReasonCodesCover(germanCreditFeatures, loaded));
  });

  it('flags sex and national origin as prohibited bases', async () => {
    const { map: loaded } = await loadReasonCodeMap(POLICY_DIR, 'credit-application');
    assert.throws(() => assertNoProhibitedBasis(germanCreditFeatures, loaded), /uses personal_status_sex, foreign_worker/);
    assert.doesNotThrow(() => assertNoProhibitedBasis(['duration_months', 'age_years'], loaded));
  });

  it('reports a missing use case', async () => {
    await assert.rejects(loadReasonCodeMap(POLICY_DIR, 'no-such-use-case'), NotFoundError);
  });

  it('rejects a use case name with a path', async () => {
    await assert.rejects(loadReasonCodeMap(POLICY_DIR, '../secrets'), BadUserInputError);
  });
});

describe('parseReasonCodeMap', () => {
  it('lists each invalid entry', () => {
    const text = [
      'useCase: credit-application',
      'version: 1',
      'reasonCodes:',
      '  - { code: RB01, feature: housing, description: Housing situation }',
      '  - { code: RB01, feature: job, description: Another statement }',
      '  - { code: bad, feature: telephone, description: "" }',
    ].join('\n');
    assert.throws(
      () => parseReasonCodeMap(text, 'test.yaml'),
      (error: unknown) => {
        assert.ok(error instanceof BadUserInputError);
        assert.deepEqual(
          error.fieldErrors.map((fieldError) => fieldError.field),
          ['/reasonCodes/1/code', '/reasonCodes/2/code', '/reasonCodes/2/description'],
        );
        return true;
      },
    );
  });
});
