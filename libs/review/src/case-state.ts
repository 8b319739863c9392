import { BadUserInputError, ConflictError } from '../../common/src/index.js';

export type CaseState = 'OPEN' | 'CLAIMED' | 'AWAITING_SECOND_REVIEW' | 'ESCALATED' | 'INFO_REQUESTED' | 'DECIDED';
export type ReviewAction = 'APPROVE' | 'DECLINE' | 'OVERRIDE' | 'ESCALATE' | 'REQUEST_INFO';
export type FinalOutcome = 'APPROVE' | 'DECLINE';

export const REVIEW_ACTIONS: readonly ReviewAction[] = ['APPROVE', 'DECLINE', 'OVERRIDE', 'ESCALATE', 'REQUEST_INFO'];

export const RATIONALE_MIN = 10;
export const RATIONALE_MAX = 4000;

/** The facts about a case that the state machine reads. */
export interface CaseSnapshot {
  state: CaseState;
  queueState: CaseState;
  assignee: string | null;
  automaticOutcome: 'APPROVE' | 'DECLINE' | 'REFER';
  fourEyes: boolean;
  requiredRole: string;
  /** Votes of the current round. A four-eyes case has at most one before it is decided. */
  votes: { reviewer: string; outcome: FinalOutcome }[];
}

export interface ReviewSubmission {
  action: ReviewAction;
  rationale: string;
  reasonCodes: string[];
  /** The new outcome of an OVERRIDE. */
  outcome?: FinalOutcome | null;
}

/** The effect of one submission, which the service writes in one transaction. */
export interface Transition {
  eventAction: 'voted' | 'decided' | 'escalated' | 'info_requested';
  toState: CaseState;
  /** The vote this submission casts, for APPROVE, DECLINE and OVERRIDE. */
  vote?: { outcome: FinalOutcome };
  /** Set when the case is decided. */
  finalOutcome?: FinalOutcome;
  /** Role that must handle the case next. */
  requiredRole: string;
  /** Whether the two votes of a four-eyes case disagreed, which escalates the case. */
  disagreement?: boolean;
}

/**
 * Decides what a reviewer's submission does to a case, before anything is written. Casbin decides
 * who may act at all. This function checks the order of the work: the submitter has claimed the
 * case, the input is complete, and a four-eyes case gets two matching votes.
 */
export function planSubmission(snapshot: CaseSnapshot, reviewer: string, submission: ReviewSubmission, escalationRole: string): Transition {
  if (snapshot.state === 'DECIDED') throw new ConflictError('This case is already decided; a decided case cannot be reviewed again.');
  if (snapshot.state !== 'CLAIMED' || snapshot.assignee !== reviewer) {
    throw new ConflictError('Claim the case before you submit a review (claimCase), or ask its assignee to release it.');
  }
  checkRationale(submission.rationale);

  if (submission.action === 'ESCALATE') {
    return { eventAction: 'escalated', toState: 'ESCALATED', requiredRole: escalationRole };
  }
  if (submission.action === 'REQUEST_INFO') {
    return { eventAction: 'info_requested', toState: 'INFO_REQUESTED', requiredRole: snapshot.requiredRole };
  }

  const outcome = voteOutcome(snapshot.automaticOutcome, submission);
  if (outcome === 'DECLINE' && submission.reasonCodes.length === 0) {
    throw new BadUserInputError('A decline needs the principal reasons for the adverse action.', [
      { field: 'reasonCodes', message: 'list at least one reason code from reviewReasonCodes' },
    ]);
  }

  // Once escalated, the senior role's single vote is final.
  const escalated = snapshot.requiredRole === escalationRole;
  if (!snapshot.fourEyes || escalated) {
    return { eventAction: 'decided', toState: 'DECIDED', vote: { outcome }, finalOutcome: outcome, requiredRole: snapshot.requiredRole };
  }

  const first = snapshot.votes[0];
  if (!first) {
    return { eventAction: 'voted', toState: 'AWAITING_SECOND_REVIEW', vote: { outcome }, requiredRole: snapshot.requiredRole };
  }
  if (first.reviewer === reviewer) {
    // casbin refuses this earlier; the check here keeps the rule true for any caller of the function.
    throw new ConflictError('A four-eyes case needs a second, different reviewer.');
  }
  if (first.outcome === outcome) {
    return { eventAction: 'decided', toState: 'DECIDED', vote: { outcome }, finalOutcome: outcome, requiredRole: snapshot.requiredRole };
  }
  return { eventAction: 'escalated', toState: 'ESCALATED', vote: { outcome }, requiredRole: escalationRole, disagreement: true };
}

/** Returns the outcome a reviewer votes for. OVERRIDE must change a definite automatic outcome. */
function voteOutcome(automatic: CaseSnapshot['automaticOutcome'], submission: ReviewSubmission): FinalOutcome {
  if (submission.action === 'APPROVE') return 'APPROVE';
  if (submission.action === 'DECLINE') return 'DECLINE';
  const outcome = submission.outcome;
  if (outcome !== 'APPROVE' && outcome !== 'DECLINE') {
    throw new BadUserInputError('OVERRIDE needs the new outcome.', [{ field: 'outcome', message: 'must be APPROVE or DECLINE for an OVERRIDE' }]);
  }
  if (outcome === automatic) {
    throw new BadUserInputError(`The automatic outcome is already ${automatic}; use ${automatic} instead of OVERRIDE.`, [
      { field: 'outcome', message: 'must differ from the automatic outcome' },
    ]);
  }
  return outcome;
}

export function checkRationale(rationale: string): void {
  const length = rationale.trim().length;
  if (length < RATIONALE_MIN || length > RATIONALE_MAX || !rationale.isWellFormed()) {
    throw new BadUserInputError('A review needs a rationale.', [
      { field: 'rationale', message: `explain the review in ${RATIONALE_MIN} to ${RATIONALE_MAX} characters` },
    ]);
  }
}

/** Tells whether a reviewer may claim a case in this state. */
export function isClaimable(state: CaseState): boolean {
  return state === 'OPEN' || state === 'AWAITING_SECOND_REVIEW' || state === 'ESCALATED' || state === 'INFO_REQUESTED';
}
