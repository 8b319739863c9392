import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BadUserInputError, ConflictError } from '../../common/src/index.js';
import { isClaimable, planSubmission, type CaseSnapshot, type ReviewSubmission } from './case-state.js';

const SENIOR = 'senior-reviewer';

function snapshot(overrides: Partial<CaseSnapshot> = {}): CaseSnapshot {
  return {
    state: 'CLAIMED',
    queueState: 'OPEN',
    assignee: 'alice',
    automaticOutcome: 'REFER',
    fourEyes: false,
    requiredRole: 'reviewer',
    votes: [],
    ...overrides,
  };
}

function submission(overrides: Partial<ReviewSubmission> = {}): ReviewSubmission {
  return { action: 'APPROVE', rationale: 'Income verified with the employer.', reasonCodes: [], ...overrides };
}

describe('planSubmission', () => {
  it('decides a single-reviewer case with the voted outcome', () => {
    const plan = planSubmission(snapshot(), 'alice', submission(), SENIOR);
    assert.deepEqual(plan, { eventAction: 'decided', toState: 'DECIDED', vote: { outcome: 'APPROVE' }, finalOutcome: 'APPROVE', requiredRole: 'reviewer' });
  });

  it('requires the claim, a live case and a rationale', () => {
    assert.throws(() => planSubmission(snapshot({ assignee: 'bob' }), 'alice', submission(), SENIOR), ConflictError);
    assert.throws(() => planSubmission(snapshot({ state: 'OPEN', assignee: null }), 'alice', submission(), SENIOR), ConflictError);
    assert.throws(() => planSubmission(snapshot({ state: 'DECIDED' }), 'alice', submission(), SENIOR), /already decided/);
    assert.throws(() => planSubmission(snapshot(), 'alice', submission({ rationale: '   short   ' }), SENIOR), BadUserInputError);
    assert.throws(() => planSubmission(snapshot(), 'alice', submission({ rationale: 'x'.repeat(4001) }), SENIOR), BadUserInputError);
  });

  it('requires reason codes for a decline, also through an override', () => {
    assert.throws(() => planSubmission(snapshot(), 'alice', submission({ action: 'DECLINE' }), SENIOR), /principal reasons/);
    const override = submission({ action: 'OVERRIDE', outcome: 'DECLINE' });
    assert.throws(() => planSubmission(snapshot({ automaticOutcome: 'APPROVE' }), 'alice', override, SENIOR), /principal reasons/);
    const plan = planSubmission(snapshot({ automaticOutcome: 'APPROVE' }), 'alice', { ...override, reasonCodes: ['RB01'] }, SENIOR);
    assert.equal(plan.finalOutcome, 'DECLINE');
  });

  it('rejects an override without a new outcome', () => {
    assert.throws(() => planSubmission(snapshot(), 'alice', submission({ action: 'OVERRIDE' }), SENIOR), BadUserInputError);
    assert.throws(() => planSubmission(snapshot({ automaticOutcome: 'APPROVE' }), 'alice', submission({ action: 'OVERRIDE', outcome: 'APPROVE' }), SENIOR), /already APPROVE/);
  });

  it('needs two agreeing votes from different reviewers on a four-eyes case', () => {
    const first = planSubmission(snapshot({ fourEyes: true }), 'alice', submission(), SENIOR);
    assert.deepEqual({ state: first.toState, final: first.finalOutcome }, { state: 'AWAITING_SECOND_REVIEW', final: undefined });

    const withVote = snapshot({ fourEyes: true, assignee: 'bob', votes: [{ reviewer: 'alice', outcome: 'APPROVE' }] });
    assert.equal(planSubmission(withVote, 'bob', submission(), SENIOR).finalOutcome, 'APPROVE');
    assert.throws(() => planSubmission({ ...withVote, assignee: 'alice' }, 'alice', submission(), SENIOR), /second, different reviewer/);

    const split = planSubmission(withVote, 'bob', submission({ action: 'DECLINE', reasonCodes: ['RB02'] }), SENIOR);
    assert.deepEqual({ state: split.toState, role: split.requiredRole, disagreement: split.disagreement }, { state: 'ESCALATED', role: SENIOR, disagreement: true });
  });

  it('lets the senior role decide an escalated four-eyes case alone', () => {
    const escalated = snapshot({ fourEyes: true, requiredRole: SENIOR, queueState: 'ESCALATED', assignee: 'sam' });
    assert.equal(planSubmission(escalated, 'sam', submission(), SENIOR).toState, 'DECIDED');
  });

  it('escalates and requests information without a vote', () => {
    const escalate = planSubmission(snapshot(), 'alice', submission({ action: 'ESCALATE' }), SENIOR);
    assert.deepEqual({ state: escalate.toState, role: escalate.requiredRole, vote: escalate.vote }, { state: 'ESCALATED', role: SENIOR, vote: undefined });
    const info = planSubmission(snapshot(), 'alice', submission({ action: 'REQUEST_INFO' }), SENIOR);
    assert.deepEqual({ state: info.toState, role: info.requiredRole }, { state: 'INFO_REQUESTED', role: 'reviewer' });
  });
});

describe('isClaimable', () => {
  it('allows claims from the waiting states only', () => {
    assert.deepEqual(
      (['OPEN', 'CLAIMED', 'AWAITING_SECOND_REVIEW', 'ESCALATED', 'INFO_REQUESTED', 'DECIDED'] as const).filter(isClaimable),
      ['OPEN', 'AWAITING_SECOND_REVIEW', 'ESCALATED', 'INFO_REQUESTED'],
    );
  });
});
