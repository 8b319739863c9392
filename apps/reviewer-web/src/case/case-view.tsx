import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError, isAbortError } from '../api/graphql-client';
import type { CaseField, ReasonCodeOption, ReviewCase } from '../api/review.types';
import { useSession } from '../session/session-context';
import { EnumText } from '../shared/enum-text';
import { caseReasonLabel, formatDateTime, shortId } from '../shared/format';
import { SlaCountdown } from '../shared/sla-countdown';
import { useAnnounce } from '../shared/status';
import { QUEUE_HREF } from '../shared/use-hash-route';
import { useNow } from '../shared/use-now';
import { ApplicationFields } from './application-fields';
import { CaseHistory } from './case-history';
import { CaseVotes } from './case-votes';
import { DecisionSummary } from './decision-summary';
import { RevealDialog } from './reveal-dialog';
import { ReviewPanel } from './review-panel';

interface CaseViewProps {
  caseId: string;
  onOpen: (caseId: string) => void;
}

export function CaseView({ caseId, onOpen }: CaseViewProps) {
  const { api } = useSession();
  const announce = useAnnounce();
  const [reviewCase, setReviewCase] = useState<ReviewCase | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [reasonCodes, setReasonCodes] = useState<ReasonCodeOption[] | null>(null);
  const [reasonCodesError, setReasonCodesError] = useState<string | null>(null);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const useCase = reviewCase?.useCase;

  /** Loads the case and returns whether that succeeded; a failure is shown and announced here. */
  const loadCase = useCallback(
    async (signal?: AbortSignal): Promise<boolean> => {
      try {
        setReviewCase(await api.reviewCase(caseId, signal));
        setLoadError(null);
        return true;
      } catch (error) {
        if (isAbortError(error)) return false;
        const message = describeError(error);
        setLoadError(message);
        announce(`Could not load case ${caseId}: ${message}`, 'error');
        return false;
      }
    },
    [api, caseId, announce],
  );

  useEffect(() => {
    onOpen(caseId);
    headingRef.current?.focus();
    const controller = new AbortController();
    void loadCase(controller.signal);
    return () => controller.abort();
  }, [caseId, onOpen, loadCase]);

  useEffect(() => {
    if (useCase === undefined) return;
    const controller = new AbortController();
    api
      .reviewReasonCodes(useCase, controller.signal)
      .then((codes) => {
        setReasonCodes(codes);
        setReasonCodesError(null);
      })
      .catch((error: unknown) => {
        if (!isAbortError(error)) setReasonCodesError(describeError(error));
      });
    return () => controller.abort();
  }, [api, useCase]);

  const refresh = async () => {
    if (await loadCase()) announce('Case refreshed.');
  };

  return (
    <article aria-labelledby="case-heading" className="case-view">
      <p className="back-link">
        <a href={QUEUE_HREF}>← Back to the queue</a>
      </p>
      <div className="view-heading">
        <h1 id="case-heading" ref={headingRef} tabIndex={-1}>
          Case <span title={caseId}>{shortId(caseId)}</span>
        </h1>
        <div className="view-heading-actions">
          <button type="button" className="button-secondary" onClick={() => void refresh()} data-testid="case-refresh">
            Refresh
          </button>
        </div>
      </div>

      {loadError ? (
        <p className="error-box">
          <strong>Error:</strong> {loadError}
        </p>
      ) : null}
      {reviewCase === null ? (
        loadError ? null : <p className="empty-state">Loading the case…</p>
      ) : (
        <CaseDetails
          reviewCase={reviewCase}
          reasonCodes={reasonCodes}
          reasonCodesError={reasonCodesError}
          onCaseUpdated={setReviewCase}
          reloadCase={loadCase}
        />
      )}
    </article>
  );
}

interface CaseDetailsProps {
  reviewCase: ReviewCase;
  reasonCodes: ReasonCodeOption[] | null;
  reasonCodesError: string | null;
  onCaseUpdated: (updated: ReviewCase) => void;
  reloadCase: () => Promise<boolean>;
}

function CaseDetails({ reviewCase, reasonCodes, reasonCodesError, onCaseUpdated, reloadCase }: CaseDetailsProps) {
  const { api } = useSession();
  const announce = useAnnounce();
  const [revealed, setRevealed] = useState<Record<string, string>>({});
  const [hidden, setHidden] = useState<Set<string>>(new Set());
  const [revealing, setRevealing] = useState<string | null>(null);
  const [focusTarget, setFocusTarget] = useState<FieldButton | null>(null);

  // The dialog's element is removed rather than closed, so focus goes back to the field's button
  // by hand, after the render that shows that button.
  useEffect(() => {
    if (focusTarget === null) return;
    const button = document.querySelector(`[data-testid="${focusTarget.testId}"][data-field="${CSS.escape(focusTarget.field)}"]`);
    if (button instanceof HTMLElement) button.focus();
  }, [focusTarget]);

  const onRevealed = (field: CaseField) => {
    setRevealed((values) => ({ ...values, [field.name]: field.value }));
    setRevealing(null);
    setFocusTarget({ field: field.name, testId: 'hide-button' });
    announce(`Revealed ${field.name}. The reveal is recorded in the ledger.`, 'success');
    // The reveal added a field_revealed event to the history.
    void reloadCase();
  };

  const setFieldHidden = (name: string, hide: boolean) => {
    setHidden((names) => {
      const next = new Set(names);
      if (hide) next.add(name);
      else next.delete(name);
      return next;
    });
    setFocusTarget({ field: name, testId: hide ? 'show-button' : 'hide-button' });
  };

  return (
    <div className="case-layout">
      <div className="case-main">
        <CaseFacts reviewCase={reviewCase} />
        <DecisionSummary decision={reviewCase.decision} />
        <ApplicationFields
          heading={reviewCase.decision.kind === 'ANSWER' ? 'Question, draft answer and sources' : 'Application'}
          fields={reviewCase.decision.application}
          revealed={revealed}
          hidden={hidden}
          onReveal={setRevealing}
          onHide={(name) => setFieldHidden(name, true)}
          onShowAgain={(name) => setFieldHidden(name, false)}
        />
        <CaseVotes reviewCase={reviewCase} />
        <CaseHistory history={reviewCase.history} />
      </div>
      <aside className="case-side" aria-label="Review actions">
        <ReviewPanel reviewCase={reviewCase} reasonCodes={reasonCodes} reasonCodesError={reasonCodesError} onCaseUpdated={onCaseUpdated} />
      </aside>

      {revealing !== null ? (
        <RevealDialog
          field={revealing}
          reveal={(reason) => api.revealCaseField({ caseId: reviewCase.id, field: revealing, reason })}
          onRevealed={onRevealed}
          onClose={() => {
            setRevealing(null);
            setFocusTarget({ field: revealing, testId: 'reveal-button' });
          }}
        />
      ) : null}
    </div>
  );
}

function CaseFacts({ reviewCase }: { reviewCase: ReviewCase }) {
  const now = useNow();

  return (
    <section className="panel" aria-labelledby="facts-heading">
      <h2 id="facts-heading">Case</h2>
      <dl className="facts facts-wide">
        <div>
          <dt>State</dt>
          <dd>
            <span className={`state-badge state-${reviewCase.state.toLowerCase()}`} data-testid="case-state">
              <EnumText value={reviewCase.state} />
            </span>
          </dd>
        </div>
        <div>
          <dt>SLA deadline</dt>
          <dd>
            <SlaCountdown deadline={reviewCase.slaDeadline} now={now} decided={reviewCase.state === 'DECIDED'} />
            <br />
            <span className="muted">{formatDateTime(reviewCase.slaDeadline)}</span>
          </dd>
        </div>
        <div>
          <dt>Priority</dt>
          <dd>P{reviewCase.priority}</dd>
        </div>
        <div>
          <dt>Use case</dt>
          <dd>{reviewCase.useCase}</dd>
        </div>
        <div>
          <dt>Four-eyes</dt>
          <dd>{reviewCase.fourEyes ? 'Yes, two reviewers must agree' : 'No'}</dd>
        </div>
        <div>
          <dt>Required role</dt>
          <dd>{reviewCase.requiredRole}</dd>
        </div>
        <div>
          <dt>Assignee</dt>
          <dd data-testid="case-assignee">{reviewCase.assignee ?? 'Unassigned'}</dd>
        </div>
        <div>
          <dt>Requested by</dt>
          <dd>{reviewCase.requestedBy}</dd>
        </div>
        <div>
          <dt>Why in review</dt>
          <dd>{reviewCase.reasons.map((reason) => caseReasonLabel(reason)).join(', ')}</dd>
        </div>
        {reviewCase.finalOutcome ? (
          <div>
            <dt>Final outcome</dt>
            <dd data-testid="case-final-outcome">{reviewCase.finalOutcome}</dd>
          </div>
        ) : null}
        <div>
          <dt>Decision id</dt>
          <dd>
            <code className="wrap-anywhere">{reviewCase.decisionId}</code>
          </dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>
            <time dateTime={reviewCase.updatedAt}>{formatDateTime(reviewCase.updatedAt)}</time>
          </dd>
        </div>
      </dl>
    </section>
  );
}

interface FieldButton {
  field: string;
  testId: 'reveal-button' | 'hide-button' | 'show-button';
}
