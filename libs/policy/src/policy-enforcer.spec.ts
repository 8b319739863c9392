import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { newEnforcer } from 'casbin';
import { FailedPreconditionError } from '../../common/src/index.js';
import { KNOWN_ROLES, RESOURCE_ACTIONS, type Principal, type WardenRole } from './access-catalog.js';
import { hashPolicyBundle } from './policy-bundle.js';
import { PolicyEnforcer } from './policy-enforcer.js';

// Compiled to <outDir>/libs/policy/src, so the repository root is four folders up.
const POLICY_DIR = resolve(import.meta.dirname, '..', '..', '..', '..', 'policies');

const ALL_PERMISSIONS = Object.entries(RESOURCE_ACTIONS).flatMap(([resource, actions]) => actions.map((action) => `${resource}:${action}`));

/** Review work that administrators do not do: deciding credit cases is for reviewers. */
const REVIEW_WORK = ['review:work', 'review:reveal'];

/** The grants the role design promises, written out independently of policy.csv. */
const EXPECTED_GRANTS: Record<WardenRole, string[]> = {
  application: ['decision:create', 'decision:read', 'use-case:read', 'session:read', 'llm:invoke', 'answer:create', 'answer:read', 'collection:read', 'guardrail:restore'],
  analyst: [
    'dataset:ingest',
    'dataset:read',
    'model:train',
    'model:read',
    'decision:read',
    'session:read',
    'guardrail:scan',
    'llm:invoke',
    'llm-usage:read',
    'answer:create',
    'answer:read',
    'collection:read',
    'collection:ingest',
    'feature:read',
  ],
  reviewer: ['review:read', 'review:work', 'review:reveal', 'session:read'],
  'senior-reviewer': ['review:read', 'review:work', 'review:reveal', 'use-case:read', 'use-case:suspend', 'session:read'],
  auditor: [
    'decision:read',
    'decision:replay',
    'ledger:verify',
    'ledger:read',
    'export:create',
    'policy:read',
    'checkpoint:read',
    'review:read',
    'use-case:read',
    'session:read',
    'guardrail:scan',
    'answer:read',
    'llm-usage:read',
    'collection:read',
    'feature:read',
  ],
  admin: ALL_PERMISSIONS.filter((permission) => !REVIEW_WORK.includes(permission)),
};

function principal(roles: string[], tenant = 'bank-a'): Principal {
  return { subject: 'user-1', tenant, roles };
}

function splitPermission(permission: string): [string, string] {
  const [resource, action] = permission.split(':');
  return [resource, action];
}

/** Copies the real casbin files into a temporary policy folder and appends `extraLines` to the policy. */
function policyFolderWith(extraLines: string[]): string {
  const folder = mkdtempSync(join(tmpdir(), 'warden-policy-'));
  mkdirSync(join(folder, 'casbin'));
  cpSync(join(POLICY_DIR, 'casbin', 'model.conf'), join(folder, 'casbin', 'model.conf'));
  const policy = readFileSync(join(POLICY_DIR, 'casbin', 'policy.csv'), 'utf8');
  writeFileSync(join(folder, 'casbin', 'policy.csv'), `${policy}\n${extraLines.join('\n')}\n`);
  return folder;
}

describe('PolicyEnforcer on the real policies', () => {
  let enforcer: PolicyEnforcer;
  before(async () => {
    enforcer = await PolicyEnforcer.create(POLICY_DIR);
  });

  for (const role of KNOWN_ROLES) {
    it(`grants ${role} exactly its permissions`, () => {
      for (const tenant of ['bank-a', 'bank-b']) {
        for (const permission of ALL_PERMISSIONS) {
          const [resource, action] = splitPermission(permission);
          const expected = EXPECTED_GRANTS[role].includes(permission);
          assert.equal(enforcer.isAllowed(principal([role], tenant), resource, action), expected, `${role} ${permission} in ${tenant}`);
        }
      }
    });
  }

  it('denies an unknown role', () => {
    assert.equal(enforcer.isAllowed(principal(['superuser']), 'decision', 'read'), false);
    assert.equal(enforcer.isAllowed(principal(['Admin']), 'decision', 'read'), false);
  });

  it('denies an unknown resource or action', () => {
    assert.equal(enforcer.isAllowed(principal(['admin']), 'tenant', 'delete'), false);
    assert.equal(enforcer.isAllowed(principal(['admin']), 'decision', 'delete'), false);
    assert.equal(enforcer.isAllowed(principal(['admin']), 'decision', '*'), false);
    assert.equal(enforcer.isAllowed(principal(['admin']), '*', 'read'), false);
  });

  it('denies a principal without roles', () => {
    assert.equal(enforcer.isAllowed(principal([]), 'decision', 'read'), false);
  });

  it('denies an invalid tenant', () => {
    assert.equal(enforcer.isAllowed(principal(['admin'], '*'), 'decision', 'read'), false);
    assert.equal(enforcer.isAllowed(principal(['admin'], ''), 'decision', 'read'), false);
    assert.equal(enforcer.isAllowed(principal(['admin'], 'bank a'), 'decision', 'read'), false);
  });

  it('unites the grants of several roles', () => {
    assert.equal(enforcer.isAllowed(principal(['reviewer', 'analyst']), 'dataset', 'ingest'), true);
    assert.equal(enforcer.isAllowed(principal(['reviewer', 'analyst']), 'ledger', 'verify'), false);
    assert.equal(enforcer.isAllowed(principal(['superuser', 'application']), 'decision', 'create'), true);
  });

  it('hashes the model and policy files', () => {
    const files = ['casbin/model.conf', 'casbin/policy.csv'].map((name) => ({
      name,
      content: readFileSync(join(POLICY_DIR, name), 'utf8'),
    }));
    assert.equal(enforcer.policyHash, hashPolicyBundle(files));
    assert.match(enforcer.policyHash, /^[0-9a-f]{64}$/);
  });

  it('names only cataloged roles and permissions', () => {
    const policy = readFileSync(join(POLICY_DIR, 'casbin', 'policy.csv'), 'utf8');
    const rules = policy
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(',').map((value) => value.trim()));
    assert.ok(rules.length >= 20, `expected at least 20 rules, got ${rules.length}`);
    for (const rule of rules) {
      assert.equal(rule[0], 'p', `rule ${rule.join(', ')}`);
      assert.ok((KNOWN_ROLES as readonly string[]).includes(rule[1]), `unknown role in ${rule.join(', ')}`);
      assert.ok(ALL_PERMISSIONS.includes(`${rule[3]}:${rule[4]}`), `unknown permission in ${rule.join(', ')}`);
      assert.ok(rule[5] === 'allow' || rule[5] === 'deny', `bad effect in ${rule.join(', ')}`);
    }
  });
});

describe('PolicyEnforcer with tenant-specific lines', () => {
  let folder: string;
  let enforcer: PolicyEnforcer;
  before(async () => {
    folder = policyFolderWith([
      'p, analyst, bank-a, model, train, deny',
      'p, reviewer, bank-b, dataset, read, allow',
      'g, reviewer, auditor, bank-c',
    ]);
    enforcer = await PolicyEnforcer.create(folder);
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  it('applies a deny only in its tenant', () => {
    assert.equal(enforcer.isAllowed(principal(['analyst'], 'bank-a'), 'model', 'train'), false);
    assert.equal(enforcer.isAllowed(principal(['analyst'], 'bank-a'), 'model', 'read'), true);
    assert.equal(enforcer.isAllowed(principal(['analyst'], 'bank-b'), 'model', 'train'), true);
  });

  it('lets a deny outweigh another role', () => {
    assert.equal(enforcer.isAllowed(principal(['admin', 'analyst'], 'bank-a'), 'model', 'train'), false);
    assert.equal(enforcer.isAllowed(principal(['analyst', 'admin'], 'bank-a'), 'model', 'train'), false);
    assert.equal(enforcer.isAllowed(principal(['admin'], 'bank-a'), 'model', 'train'), true);
  });

  it('keeps a grant inside its tenant', () => {
    assert.equal(enforcer.isAllowed(principal(['reviewer'], 'bank-b'), 'dataset', 'read'), true);
    assert.equal(enforcer.isAllowed(principal(['reviewer'], 'bank-a'), 'dataset', 'read'), false);
    assert.equal(enforcer.isAllowed(principal(['reviewer'], 'bank-bb'), 'dataset', 'read'), false);
  });

  it('applies a role link only in its tenant', () => {
    assert.equal(enforcer.isAllowed(principal(['reviewer'], 'bank-c'), 'ledger', 'verify'), true);
    assert.equal(enforcer.isAllowed(principal(['reviewer'], 'bank-a'), 'ledger', 'verify'), false);
  });

  it('changes the policy hash', async () => {
    const original = await PolicyEnforcer.create(POLICY_DIR);
    assert.notEqual(enforcer.policyHash, original.policyHash);
  });

  it('matches casbin for a user with several roles', async () => {
    // Plain casbin decides for a user linked to both roles, while the enforcer gets the roles directly.
    const casbin = await newEnforcer(join(folder, 'casbin', 'model.conf'), join(folder, 'casbin', 'policy.csv'));
    await casbin.addGroupingPolicy('alice', 'analyst', 'bank-a');
    await casbin.addGroupingPolicy('alice', 'reviewer', 'bank-a');
    for (const permission of ALL_PERMISSIONS) {
      const [resource, action] = splitPermission(permission);
      assert.equal(
        enforcer.isAllowed(principal(['analyst', 'reviewer'], 'bank-a'), resource, action),
        casbin.enforceSync('alice', 'bank-a', resource, action),
        permission,
      );
    }
  });
});

describe('PolicyEnforcer role link for every tenant', () => {
  it('applies a "*" role link in any tenant', async () => {
    const folder = policyFolderWith(['g, reviewer, auditor, *']);
    try {
      const enforcer = await PolicyEnforcer.create(folder);
      assert.equal(enforcer.isAllowed(principal(['reviewer'], 'bank-a'), 'ledger', 'verify'), true);
      assert.equal(enforcer.isAllowed(principal(['reviewer'], 'bank-z'), 'export', 'create'), true);
      assert.equal(enforcer.isAllowed(principal(['reviewer'], 'bank-z'), 'model', 'train'), false);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('PolicyEnforcer cache and reload', () => {
  it('bounds the verdict cache', async () => {
    const enforcer = await PolicyEnforcer.create(POLICY_DIR, { cacheSize: 2 });
    assert.equal(enforcer.isAllowed(principal(['auditor']), 'ledger', 'verify'), true);
    assert.equal(enforcer.isAllowed(principal(['auditor']), 'ledger', 'read'), true);
    assert.equal(enforcer.isAllowed(principal(['auditor']), 'model', 'train'), false);
    assert.equal(enforcer.cachedVerdicts, 2);
    assert.equal(enforcer.isAllowed(principal(['auditor']), 'ledger', 'verify'), true);
    assert.equal(enforcer.cachedVerdicts, 2);
  });

  it('caches one verdict per role', async () => {
    const enforcer = await PolicyEnforcer.create(POLICY_DIR);
    enforcer.isAllowed(principal(['auditor', 'analyst']), 'decision', 'read');
    enforcer.isAllowed(principal(['auditor', 'analyst']), 'decision', 'read');
    assert.equal(enforcer.cachedVerdicts, 2);
  });

  it('applies a changed policy on reload', async () => {
    const folder = policyFolderWith([]);
    try {
      const enforcer = await PolicyEnforcer.create(folder);
      const hashBefore = enforcer.policyHash;
      assert.equal(enforcer.isAllowed(principal(['auditor'], 'bank-a'), 'export', 'create'), true);

      appendFileSync(join(folder, 'casbin', 'policy.csv'), 'p, auditor, bank-a, export, create, deny\n');
      await enforcer.reload();

      assert.notEqual(enforcer.policyHash, hashBefore);
      assert.equal(enforcer.isAllowed(principal(['auditor'], 'bank-a'), 'export', 'create'), false);
      assert.equal(enforcer.isAllowed(principal(['auditor'], 'bank-b'), 'export', 'create'), true);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('keeps the old policy when a reload fails', async () => {
    const folder = policyFolderWith([]);
    try {
      const enforcer = await PolicyEnforcer.create(folder);
      const hashBefore = enforcer.policyHash;
      appendFileSync(join(folder, 'casbin', 'policy.csv'), 'p, auditor, bank-a, export, create, Deny\n');
      await assert.rejects(enforcer.reload(), FailedPreconditionError);
      assert.equal(enforcer.policyHash, hashBefore);
      assert.equal(enforcer.isAllowed(principal(['auditor'], 'bank-a'), 'export', 'create'), true);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe('PolicyEnforcer.create rejections', () => {
  it('rejects a misspelled effect', async () => {
    const folder = policyFolderWith(['p, analyst, bank-a, model, train, Deny']);
    try {
      await assert.rejects(PolicyEnforcer.create(folder), (error: unknown) => {
        assert.ok(error instanceof FailedPreconditionError);
        assert.match(error.message, /must end in allow or deny, found "Deny"/);
        return true;
      });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('rejects a rule with a missing column', async () => {
    const folder = policyFolderWith(['p, analyst, bank-a, model, train']);
    try {
      await assert.rejects(PolicyEnforcer.create(folder), /has 4 values, but the model expects 5/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('rejects a folder without casbin files', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'warden-policy-'));
    try {
      await assert.rejects(PolicyEnforcer.create(folder), (error: unknown) => {
        assert.ok(error instanceof FailedPreconditionError);
        assert.match(error.message, /must contain casbin\/model\.conf and casbin\/policy\.csv/);
        assert.match(error.message, /WARDEN_POLICY_DIR/);
        return true;
      });
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
