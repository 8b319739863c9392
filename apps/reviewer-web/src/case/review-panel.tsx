import { useState } from 'react';
import { describeError } from '../api/graphql-client';
import type { ReasonCodeOption, ReviewAction, ReviewCase, SubmitReviewInput } from '../api/review.types';
import { useSession } from '../session/session-context';
import { useAnnounce } from '../shared/status';
import { casePermissions } from './case-permissions';
import { ReviewForm } from './review-form';

interface ReviewPanelProps {
  reviewCase: ReviewCase;
  reasonCodes: ReasonCodeOption[] | null;
  reasonCodesError: string | null;
  onCaseUpdated: (updated: ReviewCase) => void;
}

/** Renders the claim and release buttons and the review vote for one case. */
export function ReviewPanel({ reviewCase, reasonCodes, reasonCodesError, onCaseUpdated }: ReviewPanelProps) {
  const { api, principal } = useSession();
  const announce = useAnnounce();
  const [pendingClaim, setPendingClaim] = useState(false);
  const [claimError, setClaimError] = useState<string | null>(null);
  const [confirmation, setConfirmation] = useState<string | null>(null);
  const permissions = casePermissions(reviewCase, principal);

  const changeClaim = async (change: 'claim' | 'release') => {
    setPendingClaim(true);
    setClaimError(null);
    setConfirmation(null);
    try {
      const updated = change === 'claim' ? await api.claimCase(reviewCase.id) : await api.releaseCase(reviewCase.id);
      onCaseUpdated(updated);
      announce(change === 'claim' ? `You claimed the case. State: ${updated.state}.` : `You released the case. State: ${updated.state}.`, 'success');
    } catch (error) {
      const message = describeError(error);
      setClaimError(message);
      announce(`Could not ${change} the case: ${message}`, 'error');
    } finally {
      setPendingClaim(false);
    }
  };

  const submit = (input: SubmitReviewInput) =>
    api.submitReview(input).catch((error: unknown) => {
      announce(`Could not submit the review: ${describeError(error)}`, 'error');
      throw error;
    });

  const onSubmitted = (updated: ReviewCase, action: ReviewAction) => {
    const message = describeSubmission(updated, action);
    setConfirmation(message);
    onCaseUpdated(updated);
    announce(message, 'success');
  };

  return (
    <section className="panel review-panel" aria-labelledby="review-panel-heading">
      <h2 id="review-panel-heading">Review</h2>
      <p className="claim-status" data-testid="claim-status">
        {describeClaim(reviewCase.assignee, principal.subject)}
      </p>
      {reviewCase.fourEyes ? (
        <p className="four-eyes-note">
          <strong>Four-eyes case:</strong> two different reviewers must agree before the decision is final.
        </p>
      ) : null}

      <div className="button-row">
        <button
          type="button"
          className="button-primary"
          data-testid="case-claim"
          disabled={!permissions.canClaim || pendingClaim}
          onClick={() => void changeClaim('claim')}
        >
          Claim
        </button>
        <button
          type="button"
          className="button-secondary"
          data-testid="case-release"
          disabled={!permissions.canRelease || pendingClaim}
          onClick={() => void changeClaim('release')}
        >
          Release
        </button>
      </div>
      {permissions.blockedReason ? <p className="hint" data-testid="case-blocked-reason">{permissions.blockedReason}</p> : null}
      {claimError ? (
        <p className="error-box">
          <strong>Error:</strong> {claimError}
        </p>
      ) : null}

      {confirmation ? (
        <div className="confirmation" data-testid="review-confirmation">
          <strong>Review recorded.</strong> {confirmation}
        </div>
      ) : null}

      {reviewCase.state === 'DECIDED' ? null : (
        <ReviewForm
          caseId={reviewCase.id}
          reasonCodes={reasonCodes}
          reasonCodesError={reasonCodesError}
          enabled={permissions.canSubmit}
          submit={submit}
          onSubmitted={onSubmitted}
        />
      )}
    </section>
  );
}

function describeClaim(assignee: string | null, me: string): string {
  if (assignee === null) return 'Nobody holds the claim on this case.';
  return assignee === me ? 'You hold the claim on this case.' : `${assignee} holds the claim on this case.`;
}

function describeSubmission(updated: ReviewCase, action: ReviewAction): string {
  switch (updated.state) {
    case 'DECIDED':
      return `${action} submitted. The case is decided with final outcome ${updated.finalOutcome ?? 'unknown'}.`;
    case 'AWAITING_SECOND_REVIEW':
      return `${action} submitted as the first vote. A second reviewer must agree before the decision is final. State: AWAITING_SECOND_REVIEW.`;
    case 'ESCALATED':
      return `Case escalated. A reviewer with the ${updated.requiredRole} role must take it. State: ESCALATED.`;
    case 'INFO_REQUESTED':
      return 'Information requested from the applicant. State: INFO_REQUESTED.';
    case 'OPEN':
    case 'CLAIMED':
      return `${action} submitted. State: ${updated.state}.`;
  }
}
