import type { Principal, ReviewCase } from '../api/review.types';

/**
 * Actions the signed-in reviewer may take on a case, with the reason when an action is blocked.
 * This mirrors the gateway's rules only to disable buttons early. The gateway still checks every
 * request, and the app shows its error when the two disagree.
 */
export interface CasePermissions {
  canClaim: boolean;
  canRelease: boolean;
  canSubmit: boolean;
  /** Reason the reviewer cannot work on the case right now, or null when they can. */
  blockedReason: string | null;
}

export function casePermissions(reviewCase: ReviewCase, principal: Principal): CasePermissions {
  const me = canonical(principal.subject);
  const heldByMe = reviewCase.assignee !== null && canonical(reviewCase.assignee) === me;
  const senior = principal.roles.includes('senior-reviewer');
  const blocked = (reason: string): CasePermissions => ({ canClaim: false, canRelease: heldByMe, canSubmit: false, blockedReason: reason });

  if (reviewCase.state === 'DECIDED') return { ...blocked('The case is decided.'), canRelease: false };
  if (canonical(reviewCase.requestedBy) === me) return blocked('You requested this decision, so another reviewer must review it.');
  if (!holdsRequiredRole(principal.roles, reviewCase.requiredRole)) {
    return blocked(`This case needs the ${reviewCase.requiredRole} role, and your token does not hold it.`);
  }
  const voted = reviewCase.votes.some((vote) => canonical(vote.reviewer) === me);
  const escalated = reviewCase.history.some((event) => event.action === 'escalated' && canonical(event.actor) === me);
  if (voted && reviewCase.fourEyes && reviewCase.state === 'AWAITING_SECOND_REVIEW') {
    return blocked('You gave the first vote on this four-eyes case, so a different reviewer must give the second.');
  }
  if (voted || escalated) return blocked('You already voted on or escalated this case, so a different reviewer must take it from here.');

  if (heldByMe) return { canClaim: false, canRelease: true, canSubmit: true, blockedReason: null };
  if (reviewCase.assignee !== null) {
    // A senior reviewer may release a claim held by someone who is away.
    return { canClaim: false, canRelease: senior, canSubmit: false, blockedReason: 'Only the reviewer who holds the claim can submit a review.' };
  }
  return { canClaim: true, canRelease: false, canSubmit: false, blockedReason: 'Claim the case before you submit a review.' };
}

// NOTE: assumes that a senior reviewer may also take cases that need the plain reviewer role.
// The gateway's policy decides, and a rejection shows up as its error message.
function holdsRequiredRole(roles: string[], requiredRole: string): boolean {
  if (roles.includes(requiredRole)) return true;
  return requiredRole === 'reviewer' && roles.includes('senior-reviewer');
}

/** Compares subjects as the gateway does: NFKC-normalized, trimmed and lowercased. */
function canonical(subject: string): string {
  return subject.normalize('NFKC').trim().toLowerCase();
}
