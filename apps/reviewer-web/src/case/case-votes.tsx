import type { ReviewCase } from '../api/review.types';
import { formatDateTime } from '../shared/format';

export function CaseVotes({ reviewCase }: { reviewCase: ReviewCase }) {
  const { votes, fourEyes } = reviewCase;

  return (
    <section className="panel" aria-labelledby="votes-heading">
      <h2 id="votes-heading">Votes</h2>
      {fourEyes ? <p className="hint">Four-eyes case: two different reviewers must agree. {votes.length} of 2 votes given.</p> : null}
      {votes.length === 0 ? (
        <p className="empty-state">No reviewer has voted yet.</p>
      ) : (
        <ol className="votes" data-testid="votes-list">
          {votes.map((vote, index) => (
            <li key={`${vote.reviewer}-${vote.at}`} className="vote">
              <p className="vote-heading">
                <strong>{fourEyes ? `Vote ${index + 1}: ` : ''}{vote.reviewer}</strong> chose <code>{vote.action}</code>, outcome{' '}
                <code>{vote.outcome}</code>, <time dateTime={vote.at}>{formatDateTime(vote.at)}</time>
              </p>
              {vote.reasonCodes.length > 0 ? (
                <p className="vote-codes">
                  Reason codes:{' '}
                  {vote.reasonCodes.map((code) => (
                    <code key={code} className="code-badge">
                      {code}
                    </code>
                  ))}
                </p>
              ) : null}
              <blockquote className="rationale">{vote.rationale}</blockquote>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
