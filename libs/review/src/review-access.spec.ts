import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { ReviewAccess, type CaseAttributes } from './review-access.js';

// Compiled to <outDir>/libs/review/src, so the repository root is four folders up.
const POLICY_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', 'policies');

const reviewer = (subject: string) => ({ subject, tenant: 'bank-a', roles: ['reviewer'] });
const senior = (subject: string) => ({ subject, tenant: 'bank-a', roles: ['senior-reviewer'] });

function attributes(overrides: Partial<CaseAttributes> = {}): CaseAttributes {
  return { requiredRole: 'reviewer', requester: 'loan-app', assignee: '', claimed: false, ...overrides };
}

describe('review attribute rules (policies/casbin/review-*.{conf,csv})', () => {
  let access: ReviewAccess;
  before(async () => {
    access = await ReviewAccess.create(POLICY_DIR);
  });

  it('lets a reviewer claim and decide an ordinary case', () => {
    assert.equal(access.isAllowed(reviewer('alice'), 'claim', attributes()), true);
    assert.equal(access.isAllowed(reviewer('alice'), 'submit', attributes()), true);
  });

  it('rejects the requester as reviewer', () => {
    for (const principal of [reviewer('loan-app'), senior('loan-app')]) {
      assert.equal(access.isAllowed(principal, 'claim', attributes()), false);
      assert.equal(access.isAllowed(principal, 'submit', attributes()), false);
    }
  });

  it('rejects earlier voters and escalators', () => {
    assert.equal(access.isAllowed(reviewer('alice'), 'claim', attributes(), true), false);
    assert.equal(access.isAllowed(reviewer('alice'), 'submit', attributes(), true), false);
    const escalated = attributes({ requiredRole: 'senior-reviewer' });
    assert.equal(access.isAllowed(senior('sam'), 'claim', escalated, true), false, 'a senior who escalated cannot settle it');
    assert.equal(access.isAllowed(senior('sam'), 'submit', escalated, true), false);
    assert.equal(access.isAllowed(reviewer('bob'), 'claim', attributes(), false), true);
  });

  it('compares subjects in canonical form', () => {
    assert.equal(access.isAllowed(reviewer('Loan-App '), 'claim', attributes()), false, 'case and spaces do not make another person');
    assert.equal(access.isAllowed(reviewer(' ALICE'), 'release', attributes({ assignee: 'alice', claimed: true })), true);
  });

  it('gives escalated cases to senior reviewers only', () => {
    const escalated = attributes({ requiredRole: 'senior-reviewer' });
    assert.equal(access.isAllowed(reviewer('bob'), 'claim', escalated), false);
    assert.equal(access.isAllowed(senior('sam'), 'claim', escalated), true);
    assert.equal(access.isAllowed({ subject: 'sam', tenant: 'bank-a', roles: ['reviewer', 'senior-reviewer'] }, 'submit', escalated), true);
  });

  it('limits reveal and release to the holder', () => {
    const held = attributes({ assignee: 'alice', claimed: true });
    for (const action of ['release', 'reveal'] as const) {
      assert.equal(access.isAllowed(reviewer('alice'), action, held), true);
      assert.equal(access.isAllowed(reviewer('bob'), action, held), false);
      assert.equal(access.isAllowed(reviewer('alice'), action, attributes()), false, `${action} of an unclaimed case`);
    }
    assert.equal(access.isAllowed(senior('sam'), 'reveal', held), false);
    assert.equal(access.isAllowed(senior('sam'), 'release', held), true, 'an absent reviewer does not block the queue');
    assert.equal(access.isAllowed(senior('sam'), 'release', attributes()), false);
  });

  it('grants nothing to roles outside review work', () => {
    for (const role of ['application', 'analyst', 'auditor', 'admin']) {
      for (const action of ['claim', 'submit', 'release', 'reveal'] as const) {
        assert.equal(access.isAllowed({ subject: 'x', tenant: 'bank-a', roles: [role] }, action, attributes({ assignee: 'x', claimed: true })), false, `${role} ${action}`);
      }
    }
  });
});
