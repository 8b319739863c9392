import type { Attribution, CaseDecision } from '../api/review.types';
import { formatContribution, formatDateTime, formatPercent } from '../shared/format';
import { AttributionChart } from './attribution-chart';

/** Shows the automatic decision that sent the case to review. Review never changes it. */
export function DecisionSummary({ decision }: { decision: CaseDecision }) {
  if (decision.kind === 'ANSWER') return <AnswerSummary decision={decision} />;
  return (
    <section className="panel" aria-labelledby="decision-heading">
      <h2 id="decision-heading">Automatic decision</h2>
      <dl className="facts">
        <div>
          <dt>Outcome</dt>
          <dd>
            <span className={`outcome outcome-${decision.outcome.toLowerCase()}`} data-testid="decision-outcome">
              {decision.outcome}
            </span>
          </dd>
        </div>
        <div>
          <dt>Probability of default</dt>
          <dd data-testid="decision-score">{formatPercent(decision.score)}</dd>
        </div>
        <div>
          <dt>Model version</dt>
          <dd data-testid="decision-model-version">
            <code>{decision.modelVersion}</code>
          </dd>
        </div>
        <div>
          <dt>Decided at</dt>
          <dd>
            <time dateTime={decision.createdAt}>{formatDateTime(decision.createdAt)}</time>
          </dd>
        </div>
      </dl>

      <h3>Reason codes</h3>
      {decision.reasonCodes.length === 0 ? (
        <p className="empty-state">The decision carries no reason codes.</p>
      ) : (
        <ul className="reason-codes">
          {decision.reasonCodes.map((reasonCode) => (
            <li key={reasonCode.code}>
              <code className="code-badge">{reasonCode.code}</code>
              <span>{reasonCode.description}</span>
              <span className="contribution" title="Contribution in log-odds">
                {formatContribution(reasonCode.contribution)}
              </span>
            </li>
          ))}
        </ul>
      )}

      <h3>Attributions</h3>
      <AttributionChart attributions={withDescriptions(decision)} />
    </section>
  );
}

/**
 * Shows a generated answer that was held back because its sources support it too little. The
 * reviewer approves to release it to the caller, or declines to withhold it.
 */
function AnswerSummary({ decision }: { decision: CaseDecision }) {
  return (
    <section className="panel" aria-labelledby="decision-heading">
      <h2 id="decision-heading">Generated answer held for review</h2>
      <dl className="facts">
        <div>
          <dt>Groundedness</dt>
          <dd data-testid="decision-score">{formatPercent(decision.score)}</dd>
        </div>
        <div>
          <dt>Model</dt>
          <dd data-testid="decision-model-version">
            <code>{decision.modelVersion}</code>
          </dd>
        </div>
        <div>
          <dt>Answered at</dt>
          <dd>
            <time dateTime={decision.createdAt}>{formatDateTime(decision.createdAt)}</time>
          </dd>
        </div>
      </dl>
      <p className="empty-state">
        Groundedness is the share of answer sentences that the cited sources support. Approve to release the answer to the
        caller; decline to withhold it.
      </p>
    </section>
  );
}

/** Adds the meaning of coded values to the attributions, such as "A14 (no checking account)". */
function withDescriptions(decision: CaseDecision): Attribution[] {
  const descriptions = new Map(decision.application.map((field) => [field.name, field.description]));
  return decision.attributions.map((attribution) => {
    const description = descriptions.get(attribution.feature);
    return description ? { ...attribution, value: `${attribution.value} (${description})` } : attribution;
  });
}
