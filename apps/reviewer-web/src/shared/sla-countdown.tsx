import { formatDateTime, formatDuration } from './format';

/** Deadlines closer than this are styled as due soon. */
const DUE_SOON_MS = 60 * 60 * 1000;

interface SlaCountdownProps {
  deadline: string;
  /** Current time in epoch milliseconds, passed down so that one timer drives every countdown. */
  now: number;
  /** A decided case has no running deadline, so the countdown stops and shows "Decided". */
  decided?: boolean;
}

/** Renders the time left until an SLA deadline. An overdue case shows the word "Overdue", not only a colour. */
export function SlaCountdown({ deadline, now, decided = false }: SlaCountdownProps) {
  if (decided) {
    return (
      <time dateTime={deadline} title={`SLA deadline ${formatDateTime(deadline)}`} className="sla">
        Decided
      </time>
    );
  }
  const remaining = Date.parse(deadline) - now;
  const overdue = remaining < 0;

  return (
    <time dateTime={deadline} title={`SLA deadline ${formatDateTime(deadline)}`} className={urgencyClass(remaining)} data-overdue={overdue}>
      {overdue ? (
        <>
          <span aria-hidden="true">⚠ </span>
          <strong>Overdue</strong> by {formatDuration(remaining)}
        </>
      ) : (
        <>{formatDuration(remaining)} left</>
      )}
    </time>
  );
}

function urgencyClass(remainingMs: number): string {
  if (remainingMs < 0) return 'sla sla-overdue';
  if (remainingMs < DUE_SOON_MS) return 'sla sla-soon';
  return 'sla';
}
