import { join } from 'node:path';
import { FileAdapter, newEnforcer, type Enforcer } from 'casbin';
import { FailedPreconditionError, getLogger } from '../../common/src/index.js';
import { isValidTenant, type Principal } from './access-catalog.js';
import { hashPolicyBundle, readPolicyBundle, type PolicyBundleFile } from './policy-bundle.js';

export interface PolicyEnforcerOptions {
  /** Casbin model file, relative to the policy folder. */
  modelFile?: string;
  /** Casbin policy file, relative to the policy folder, read with casbin's FileAdapter. */
  policyFile?: string;
  /** Maximum number of memoized (role, tenant, resource, action) verdicts. */
  cacheSize?: number;
}

/** Result of one role's check: an allow line matched, a deny line matched, or nothing matched. */
type RoleVerdict = 'allow' | 'deny' | 'none';

/** One loaded generation of the policy: a reload builds a new one and swaps it in whole. */
interface LoadedPolicy {
  enforcer: Enforcer;
  policyHash: string;
  /** Position of `eft` in a policy rule, or -1 when the model has no effect column. */
  effectIndex: number;
}

/** Domain of policy lines and role links that apply to every tenant. */
const ALL_TENANTS = '*';

const DEFAULT_CACHE_SIZE = 10_000;

/**
 * Casbin enforcer over a policy folder (RBAC with domains, where a domain is a tenant).
 *
 * Casbin evaluates the matcher once per policy line on every check, so each check costs time
 * linear in the number of lines. The enforcer therefore memoizes each role's verdict per
 * (role, tenant, resource, action) in a bounded map that a reload clears, and only a cache miss
 * runs casbin's synchronous enforce.
 *
 * NOTE: a cache miss still evaluates every line, about 19 ms at 10,000 lines on a 2-vCPU Xeon
 * (test/bench/policy.bench.ts). Splitting the lines into one enforcer per tenant would shorten it.
 */
export class PolicyEnforcer {
  private readonly verdicts = new Map<string, RoleVerdict>();

  private constructor(
    private readonly folder: string,
    private readonly fileNames: readonly [model: string, policy: string],
    private readonly cacheSize: number,
    private loaded: LoadedPolicy,
  ) {}

  /**
   * Loads the model and policy (by default casbin/model.conf and casbin/policy.csv under `folder`,
   * which is WARDEN_POLICY_DIR) with casbin's file adapter and computes the policy
   * hash. Raises FailedPreconditionError when a file is missing, the model does not take
   * (subject, domain, object, action) requests, or a policy line is malformed.
   */
  static async create(folder: string, options: PolicyEnforcerOptions = {}): Promise<PolicyEnforcer> {
    const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 1) {
      throw new TypeError(`PolicyEnforcer.create: cacheSize must be a positive integer, got ${cacheSize}`);
    }

    const fileNames = [options.modelFile ?? 'casbin/model.conf', options.policyFile ?? 'casbin/policy.csv'] as const;
    const loaded = await loadPolicy(folder, fileNames);
    return new PolicyEnforcer(folder, fileNames, cacheSize, loaded);
  }

  /** SHA-256 (hex) of the loaded model and policy files, as hashPolicyBundle computes it. */
  get policyHash(): string {
    return this.loaded.policyHash;
  }

  /** Number of memoized role verdicts, for tests and metrics. */
  get cachedVerdicts(): number {
    return this.verdicts.size;
  }

  /**
   * Returns true when at least one of the principal's roles is allowed `action` on `resource` in
   * the principal's tenant and no deny line matches any of its roles. A deny on one role
   * outweighs an allow on another, as casbin decides when a user is linked to several roles.
   * A principal without roles, or with a tenant outside TENANT_PATTERN, is denied.
   */
  isAllowed(principal: Principal, resource: string, action: string): boolean {
    if (principal.roles.length === 0 || !isValidTenant(principal.tenant)) return false;

    let allowed = false;
    for (const role of principal.roles) {
      const verdict = this.roleVerdict(role, principal.tenant, resource, action);
      if (verdict === 'deny') return false;
      if (verdict === 'allow') allowed = true;
    }
    return allowed;
  }

  /**
   * Reads the policy folder again and swaps in the new policy and an empty cache together, so
   * no check after the swap returns a verdict of the old policy. On failure the old policy stays.
   */
  async reload(): Promise<void> {
    const next = await loadPolicy(this.folder, this.fileNames);
    const previousHash = this.loaded.policyHash;
    this.loaded = next;
    this.verdicts.clear();
    getLogger('policy').info({ folder: this.folder, previousHash, policyHash: next.policyHash }, 'policy reloaded');
  }

  private roleVerdict(role: string, tenant: string, resource: string, action: string): RoleVerdict {
    const key = `${role}\u0000${tenant}\u0000${resource}\u0000${action}`;
    const cached = this.verdicts.get(key);
    if (cached !== undefined) return cached;

    const verdict = this.enforceRole(role, tenant, resource, action);
    if (this.verdicts.size >= this.cacheSize) {
      // Evicts the oldest entry: Map iterates in insertion order.
      const oldest = this.verdicts.keys().next().value;
      if (oldest !== undefined) this.verdicts.delete(oldest);
    }
    this.verdicts.set(key, verdict);
    return verdict;
  }

  private enforceRole(role: string, tenant: string, resource: string, action: string): RoleVerdict {
    const { enforcer, effectIndex } = this.loaded;
    const [allowed, rule] = enforcer.enforceExSync(role, tenant, resource, action);
    if (allowed) return 'allow';
    // With "allow unless denied", casbin explains a rejection by the deny rule that matched,
    // and returns no rule when nothing matched.
    if (effectIndex >= 0 && rule[effectIndex] === 'deny') return 'deny';
    return 'none';
  }
}

async function loadPolicy(folder: string, fileNames: readonly [string, string]): Promise<LoadedPolicy> {
  const [modelFile, policyFile] = fileNames;
  const before = await readBundle(folder, fileNames);

  const enforcer = await newEnforcer(join(folder, modelFile), new FileAdapter(join(folder, policyFile)));
  // Lets a role link written for "*" apply in every tenant, like a policy line for "*".
  await enforcer.addNamedDomainMatchingFunc('g', (tenant: string, linkDomain: string) => linkDomain === ALL_TENANTS || linkDomain === tenant);
  await enforcer.buildRoleLinks();
  const effectIndex = checkModelAndRules(enforcer, folder, fileNames);

  // The hash must describe the rules casbin loaded, so a file changed during the load fails it.
  const after = await readBundle(folder, fileNames);
  const policyHash = hashPolicyBundle(after);
  if (policyHash !== hashPolicyBundle(before)) {
    throw new FailedPreconditionError(`The policy files in ${folder} changed while they were loading. Load them again.`);
  }

  getLogger('policy').info({ folder, policyHash, rules: enforcer.getModel().model.get('p')?.get('p')?.policy.length ?? 0 }, 'policy loaded');
  return { enforcer, policyHash, effectIndex };
}

async function readBundle(folder: string, fileNames: readonly string[]): Promise<PolicyBundleFile[]> {
  try {
    return await readPolicyBundle(folder, fileNames);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new FailedPreconditionError(
        `The policy folder ${folder} must contain ${fileNames.join(' and ')}. Set WARDEN_POLICY_DIR to the folder with the casbin model and policy.`,
      );
    }
    throw error;
  }
}

/**
 * Checks what casbin accepts silently but would misjudge: a request shape other than four values,
 * a rule with the wrong number of columns, or an effect other than allow or deny. Casbin ignores a
 * line whose effect reads "Deny", so without this check a typo would quietly drop a deny.
 * Returns the position of the effect column, or -1 when the model has none.
 */
function checkModelAndRules(enforcer: Enforcer, folder: string, fileNames: readonly [string, string]): number {
  const model = enforcer.getModel().model;
  const requestTokens = model.get('r')?.get('r')?.tokens ?? [];
  if (requestTokens.length !== 4) {
    throw new FailedPreconditionError(
      `The casbin model ${fileNames[0]} in ${folder} must define requests as "r = sub, dom, obj, act", found ${requestTokens.length} values.`,
    );
  }

  const assertion = model.get('p')?.get('p');
  const tokens = assertion?.tokens ?? [];
  const effectIndex = tokens.indexOf('p_eft');
  for (const [index, rule] of (assertion?.policy ?? []).entries()) {
    const where = `policy rule ${index + 1} (${rule.join(', ')}) in ${fileNames[1]}`;
    if (rule.length !== tokens.length) {
      throw new FailedPreconditionError(`The ${where} has ${rule.length} values, but the model expects ${tokens.length}.`);
    }
    if (effectIndex >= 0 && rule[effectIndex] !== 'allow' && rule[effectIndex] !== 'deny') {
      throw new FailedPreconditionError(`The ${where} must end in allow or deny, found "${rule[effectIndex]}".`);
    }
  }
  return effectIndex;
}
