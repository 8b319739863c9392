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

  if (submission.action !== 'OVERRIDE' && submission.outcome) {
    throw new BadUserInputError(`outcome applies to OVERRIDE only; ${submission.action} decides by itself.`, [
      { field: 'outcome', message: 'leave it out unless the action is OVERRIDE' },
    ]);
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
  if (automatic === 'REFER') {
    throw new BadUserInputError('The model referred this case without an outcome to override; use APPROVE or DECLINE.', [
      { field: 'action', message: 'must be APPROVE or DECLINE when the automatic outcome is REFER' },
    ]);
  }
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
  checkFreeText(rationale, 'rationale', RATIONALE_MIN, RATIONALE_MAX, 'A review needs a rationale.');
}

/** Control characters other than tab, line feed and carriage return, which no free text needs. */
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/u;
/** Characters that show nothing: whitespace and format characters such as U+200B. */
const INVISIBLE_CHARACTERS = /[\s\p{Cf}]/gu;

/**
 * Checks a free-text field that people write for the record (rationales and reasons): well-formed
 * Unicode, no control characters, and from `min` to `max` visible characters.
 */
export function checkFreeText(text: string, field: string, min: number, max: number, problem: string): void {
  const visible = text.replace(INVISIBLE_CHARACTERS, '').length;
  if (visible < min || text.length > max || !text.isWellFormed() || CONTROL_CHARACTERS.test(text)) {
    throw new BadUserInputError(problem, [
      { field, message: `write ${min} to ${max} characters of plain text (no control characters)` },
    ]);
  }
}

/** Tells whether a reviewer may claim a case in this state. */
export function isClaimable(state: CaseState): boolean {
  return state === 'OPEN' || state === 'AWAITING_SECOND_REVIEW' || state === 'ESCALATED' || state === 'INFO_REQUESTED';
}
