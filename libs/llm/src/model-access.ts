import { join } from 'node:path';
import { FileAdapter, newEnforcer, type Enforcer } from 'casbin';
import { FailedPreconditionError } from '../../common/src/index.js';
import type { Principal } from '../../policy/src/index.js';

/** Casbin model and policy of model-level LLM access, under the policy folder. */
export const MODEL_ACCESS_FILES = ['casbin/llm-model.conf', 'casbin/llm-model-policy.csv'] as const;

/**
 * Which models each role may call in each tenant (policies/casbin/llm-model-policy.csv): a rule
 * names a role, a tenant or "*", a model name pattern (casbin globMatch, such as `qwen*`) and allow
 * or deny. A call needs an allow for one of the caller's roles and no deny for any of them. This
 * check comes after the RBAC grant `llm invoke` in policy.csv.
 */
export class ModelAccess {
  private readonly verdicts = new Map<string, boolean>();

  private constructor(private readonly enforcer: Enforcer) {}

  static async create(policyDir: string): Promise<ModelAccess> {
    const [modelFile, policyFile] = MODEL_ACCESS_FILES;
    try {
      const enforcer = await newEnforcer(join(policyDir, modelFile), new FileAdapter(join(policyDir, policyFile)));
      return new ModelAccess(enforcer);
    } catch (error) {
      throw new FailedPreconditionError(
        `The model access policy (${MODEL_ACCESS_FILES.join(' and ')} in ${policyDir}) could not be loaded: ${(error as Error).message}`,
      );
    }
  }

  isAllowed(principal: Principal, model: string): boolean {
    const key = `${principal.tenant}\u0000${principal.roles.join('\u0001')}\u0000${model}`;
    const cached = this.verdicts.get(key);
    if (cached !== undefined) return cached;

    let allowed = false;
    let denied = false;
    for (const role of principal.roles) {
      if (this.enforcer.enforceSync(role, principal.tenant, model, 'deny')) denied = true;
      if (this.enforcer.enforceSync(role, principal.tenant, model, 'allow')) allowed = true;
    }
    const verdict = allowed && !denied;
    if (this.verdicts.size >= 10_000) this.verdicts.clear();
    this.verdicts.set(key, verdict);
    return verdict;
  }
}
