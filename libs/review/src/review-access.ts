import { join } from 'node:path';
import { newEnforcer, type Enforcer } from 'casbin';
import type { Principal } from '../../policy/src/index.js';

export type CaseAccessAction = 'claim' | 'submit' | 'release' | 'reveal';

/** The attributes of a case that the review rules read. Subjects are canonical (see canonicalSubject). */
export interface CaseAttributes {
  requiredRole: string;
  requester: string;
  /** Subject holding the claim, or "". */
  assignee: string;
  claimed: boolean;
}

/**
 * Returns the form of a token subject used to tell people apart: NFKC-normalized, trimmed and
 * lowercased, so that "Alice" and "alice " cannot act as two reviewers.
 */
export function canonicalSubject(subject: string): string {
  return subject.normalize('NFKC').trim().toLowerCase();
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

  /**
   * Returns true when any of the caller's roles may take `action` on a case with these attributes.
   * `participated` is true when the caller already voted on the case or escalated it.
   */
  isAllowed(principal: Principal, action: CaseAccessAction, attributes: CaseAttributes, participated = false): boolean {
    const subject = canonicalSubject(principal.subject);
    return principal.roles.some((role) => this.enforcer.enforceSync({ role, subject, participated }, attributes, action));
  }
}
