import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { ReviewAccess, type CaseAttributes } from './review-access.js';

// Compiled to <outDir>/libs/review/src, so the repository root is four folders up.
const POLICY_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', 'policies');

const reviewer = (subject: string) => ({ subject, tenant: 'bank-a', roles: ['reviewer'] });
const senior = (subject: string) => ({ subject, tenant: 'bank-a', roles: ['senior-reviewer'] });

function attributes(overrides: Partial<CaseAttributes> = {}): CaseAttributes {
  return { requiredRole: 'reviewer', requester: 'loan-app', firstReviewer: '', assignee: '', ...overrides };
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

  it('never lets the subject who requested the decision claim or decide it, whatever the role', () => {
    for (const principal of [reviewer('loan-app'), senior('loan-app')]) {
      assert.equal(access.isAllowed(principal, 'claim', attributes()), false);
      assert.equal(access.isAllowed(principal, 'submit', attributes()), false);
    }
  });

  it('keeps the first reviewer of a four-eyes round from giving the second vote', () => {
    const waiting = attributes({ firstReviewer: 'alice' });
    assert.equal(access.isAllowed(reviewer('alice'), 'claim', waiting), false);
    assert.equal(access.isAllowed(senior('alice'), 'submit', waiting), false);
    assert.equal(access.isAllowed(reviewer('bob'), 'claim', waiting), true);
  });

  it('gives escalated cases to senior reviewers only', () => {
    const escalated = attributes({ requiredRole: 'senior-reviewer' });
    assert.equal(access.isAllowed(reviewer('bob'), 'claim', escalated), false);
    assert.equal(access.isAllowed(senior('sam'), 'claim', escalated), true);
    assert.equal(access.isAllowed({ subject: 'sam', tenant: 'bank-a', roles: ['reviewer', 'senior-reviewer'] }, 'submit', escalated), true);
  });

  it('lets only the holder release a case or reveal its masked fields', () => {
    const held = attributes({ assignee: 'alice' });
    for (const action of ['release', 'reveal'] as const) {
      assert.equal(access.isAllowed(reviewer('alice'), action, held), true);
      assert.equal(access.isAllowed(reviewer('bob'), action, held), false);
      assert.equal(access.isAllowed(senior('sam'), action, held), false);
      assert.equal(access.isAllowed(reviewer('alice'), action, attributes()), false, `${action} of an unclaimed case`);
    }
  });

  it('grants nothing to roles outside review work', () => {
    for (const role of ['application', 'analyst', 'auditor', 'admin']) {
      for (const action of ['claim', 'submit', 'release', 'reveal'] as const) {
        assert.equal(access.isAllowed({ subject: 'x', tenant: 'bank-a', roles: [role] }, action, attributes({ assignee: 'x' })), false, `${role} ${action}`);
      }
    }
  });
});
