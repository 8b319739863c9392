// Measures the time per access check against policies of 10 to 10,000 lines: casbin's plain
// enforceSync, which evaluates the matcher on every line, and PolicyEnforcer.isAllowed once its
// verdict cache is warm. Run after compiling: node <outDir>/test/bench/policy.bench.js
import { cpus } from 'node:os';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { newEnforcer, type Enforcer } from 'casbin';
import { KNOWN_ROLES, PolicyEnforcer, RESOURCE_ACTIONS, type Principal } from '../../libs/policy/src/index.js';

const POLICY_COUNTS = [10, 100, 1_000, 10_000];
const MIN_DURATION_MS = 1_000;
const MIN_CHECKS = 20;
const REQUEST_COUNT = 64;

// Compiled to <outDir>/test/bench, so the repository root is three folders up.
const MODEL_PATH = resolve(import.meta.dirname, '..', '..', '..', 'policies', 'casbin', 'model.conf');

const PERMISSIONS = Object.entries(RESOURCE_ACTIONS).flatMap(([resource, actions]) => actions.map((action) => [resource, action] as const));

interface Check {
  principal: Principal;
  resource: string;
  action: string;
}

/** Writes `count` tenant-specific policy lines, spread over tenants of 50 lines each, one in ten a deny. */
function writePolicyFolder(count: number): string {
  const folder = mkdtempSync(join(tmpdir(), 'warden-policy-bench-'));
  mkdirSync(join(folder, 'casbin'));
  copyFileSync(MODEL_PATH, join(folder, 'casbin', 'model.conf'));

  const lines: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const role = KNOWN_ROLES[index % KNOWN_ROLES.length];
    const [resource, action] = PERMISSIONS[index % PERMISSIONS.length];
    const effect = index % 10 === 9 ? 'deny' : 'allow';
    lines.push(`p, ${role}, tenant-${Math.floor(index / 50)}, ${resource}, ${action}, ${effect}`);
  }
  writeFileSync(join(folder, 'casbin', 'policy.csv'), `${lines.join('\n')}\n`);
  return folder;
}

/** Builds a fixed mix of checks over the tenants that exist in a policy of `count` lines. */
function checksFor(count: number): Check[] {
  const tenants = Math.max(1, Math.ceil(count / 50));
  return Array.from({ length: REQUEST_COUNT }, (_, index) => {
    const [resource, action] = PERMISSIONS[(index * 7) % PERMISSIONS.length];
    return {
      principal: { subject: `user-${index}`, tenant: `tenant-${(index * 13) % tenants}`, roles: [KNOWN_ROLES[index % KNOWN_ROLES.length]] },
      resource,
      action,
    };
  });
}

/** Runs `check` over the request mix until both minimums are reached; returns microseconds per check. */
function measure(checks: Check[], check: (item: Check) => boolean): number {
  let done = 0;
  let allowed = 0;
  let batchSize = 1;
  let elapsedMs = 0;
  const started = process.hrtime.bigint();
  while (done < MIN_CHECKS || elapsedMs < MIN_DURATION_MS) {
    const batchStarted = process.hrtime.bigint();
    for (let index = 0; index < batchSize; index += 1) {
      if (check(checks[done % checks.length])) allowed += 1;
      done += 1;
    }
    const now = process.hrtime.bigint();
    elapsedMs = Number(now - started) / 1e6;
    // Grows batches until one takes a millisecond, so reading the clock stays out of the cached path's time.
    if (Number(now - batchStarted) / 1e6 < 1) batchSize *= 2;
  }
  // Keeps the verdicts observable so that the loop is not optimized away.
  if (allowed < 0) console.log(allowed);
  return (elapsedMs * 1000) / done;
}

function formatRow(values: Array<string | number>): string {
  return `| ${values.join(' | ')} |`;
}

function formatNumber(value: number, digits: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

async function main(): Promise<void> {
  console.log(`Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} logical CPUs`);
  console.log(`Each cell: ${REQUEST_COUNT} distinct (role, tenant, resource, action) checks in rotation, at least ${MIN_DURATION_MS} ms.`);
  console.log('');
  console.log(formatRow(['policies', 'casbin enforceSync µs/check', 'casbin checks/s', 'isAllowed warm µs/check', 'isAllowed checks/s']));
  console.log(formatRow(['---:', '---:', '---:', '---:', '---:']));

  for (const count of POLICY_COUNTS) {
    const folder = writePolicyFolder(count);
    try {
      const checks = checksFor(count);
      const casbin: Enforcer = await newEnforcer(join(folder, 'casbin', 'model.conf'), join(folder, 'casbin', 'policy.csv'));
      const enforcer = await PolicyEnforcer.create(folder);

      // Both paths must reach the same verdicts, or the timing compares different work.
      for (const { principal, resource, action } of checks) {
        const expected = casbin.enforceSync(principal.roles[0], principal.tenant, resource, action);
        if (enforcer.isAllowed(principal, resource, action) !== expected) {
          throw new Error(`verdicts differ for ${principal.roles[0]} ${principal.tenant} ${resource} ${action}`);
        }
      }

      const casbinMicros = measure(checks, ({ principal, resource, action }) =>
        casbin.enforceSync(principal.roles[0], principal.tenant, resource, action),
      );
      const cachedMicros = measure(checks, ({ principal, resource, action }) => enforcer.isAllowed(principal, resource, action));
      console.log(
        formatRow([
          count.toLocaleString('en-US'),
          formatNumber(casbinMicros, 2),
          formatNumber(1e6 / casbinMicros, 0),
          formatNumber(cachedMicros, 3),
          formatNumber(1e6 / cachedMicros, 0),
        ]),
      );
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  }
}

await main();
