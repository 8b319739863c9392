import { join } from 'node:path';
import { newEnforcer, type Enforcer } from 'casbin';
import type { Principal } from '../../policy/src/index.js';

export type CaseAccessAction = 'claim' | 'submit' | 'release' | 'reveal';

/** The attributes of a case that the review rules read. */
export interface CaseAttributes {
  requiredRole: string;
  requester: string;
  /** Subject of the first vote of the current four-eyes round, or "" when there is none. */
  firstReviewer: string;
  /** Subject holding the claim, or "". */
  assignee: string;
}

/**
 * Attribute-based rules of review work (policies/casbin/review-model.conf and review-policy.csv):
 * who may claim, decide, release or reveal a given case. The RBAC check of the gateway decides
 * whether a caller may use the review API at all; these rules decide which cases.
 */
export class ReviewAccess {
  private constructor(private readonly enforcer: Enforcer) {}

  static async create(policyDir: string): Promise<ReviewAccess> {
    const enforcer = await newEnforcer(join(policyDir, 'casbin', 'review-model.conf'), join(policyDir, 'casbin', 'review-policy.csv'));
    return new ReviewAccess(enforcer);
  }

  /** Whether any of the caller's roles may take `action` on a case with these attributes. */
  isAllowed(principal: Principal, action: CaseAccessAction, attributes: CaseAttributes): boolean {
    return principal.roles.some((role) => this.enforcer.enforceSync({ role, subject: principal.subject }, attributes, action));
  }
}
