import type { CaseEvent } from '../api/review.types';
import { formatDateTime } from '../shared/format';

/** Lists the case's events, oldest first, each with the ledger sequence number that records it. */
export function CaseHistory({ history }: { history: CaseEvent[] }) {
  return (
    <section className="panel" aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      {history.length === 0 ? (
        <p className="empty-state">No events yet.</p>
      ) : (
        <ol className="history" data-testid="history-list">
          {history.map((event) => (
            <li key={event.ledgerSeq} data-ledger-seq={event.ledgerSeq} data-action={event.action}>
              <p className="history-heading">
                <span className="history-action">{event.action.replaceAll('_', ' ')}</span> by <strong>{event.actor}</strong>
                {' · '}
                <span className="state-change">
                  {event.fromState ? `${event.fromState} → ${event.toState}` : event.toState}
                </span>
              </p>
              <p className="history-meta">
                <time dateTime={event.at}>{formatDateTime(event.at)}</time> · Ledger seq <span className="ledger-seq">{event.ledgerSeq}</span>
                {event.detail ? <> · {event.detail}</> : null}
              </p>
              {event.reasonCodes.length > 0 ? (
                <p className="history-codes">
                  {event.reasonCodes.map((code) => (
                    <code key={code} className="code-badge">
                      {code}
                    </code>
                  ))}
                </p>
              ) : null}
              {event.rationale ? <blockquote className="rationale">{event.rationale}</blockquote> : null}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
