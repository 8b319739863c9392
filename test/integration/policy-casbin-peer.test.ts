import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { newEnforcer } from 'casbin';
import { PolicyEnforcer } from '../../libs/policy/src/index.js';
import { sharedDataPath } from '../support/databases.js';

interface EnforceSuite {
  test: string;
  model: string;
  policy: string | null;
  cases: Array<{ request: string[]; expected: boolean }>;
}

const expectations = sharedDataPath('peer/casbin/expected_enforce_results.json');
const MODEL_FILE = 'examples/rbac_with_domains_model.conf';
const POLICY_FILE = 'examples/rbac_with_domains_policy.csv';

// casbin's own example of RBAC with domains and the verdicts its upstream tests expect. The
// enforcer must reach the same verdicts when each user is passed as its single role, because
// casbin then resolves the user's role links per domain exactly as in the upstream tests.
describe('PolicyEnforcer against casbin examples', { skip: expectations.skipReason }, () => {
  let suite: EnforceSuite;
  let examplesRoot: string;
  before(() => {
    const data = JSON.parse(readFileSync(expectations.path, 'utf8')) as { suites: EnforceSuite[] };
    const found = data.suites.find((candidate) => candidate.test === 'TestRBACModelWithDomains');
    assert.ok(found, 'the expectations contain no TestRBACModelWithDomains suite');
    suite = found;
    examplesRoot = dirname(expectations.path);
  });

  it('uses the RBAC with domains example', () => {
    assert.equal(suite.model, MODEL_FILE);
    assert.equal(suite.policy, POLICY_FILE);
    assert.equal(suite.cases.length, 8);
  });

  it('matches every expected verdict', async () => {
    const enforcer = await PolicyEnforcer.create(examplesRoot, { modelFile: MODEL_FILE, policyFile: POLICY_FILE });
    for (const { request, expected } of suite.cases) {
      const [subject, domain, object, action] = request;
      const principal = { subject, tenant: domain, roles: [subject] };
      assert.equal(enforcer.isAllowed(principal, object, action), expected, request.join(', '));
      // Asks twice so that the memoized verdict is checked as well as casbin's.
      assert.equal(enforcer.isAllowed(principal, object, action), expected, `${request.join(', ')} from the cache`);
    }
  });

  it('agrees with plain casbin', async () => {
    const casbin = await newEnforcer(join(examplesRoot, MODEL_FILE), join(examplesRoot, POLICY_FILE));
    for (const { request, expected } of suite.cases) {
      assert.equal(casbin.enforceSync(...request), expected, request.join(', '));
    }
  });
});
