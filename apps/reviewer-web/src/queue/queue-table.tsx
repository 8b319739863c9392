import { useEffect, useRef } from 'react';
import type { ReviewCaseSummary } from '../api/review.types';
import { caseReasonLabel, shortId, stateLabel } from '../shared/format';
import { SlaCountdown } from '../shared/sla-countdown';
import { caseHref, navigateTo } from '../shared/use-hash-route';
import { useNow } from '../shared/use-now';

const PRIORITY_LABELS: Record<number, string> = { 1: 'High', 2: 'Medium', 3: 'Low' };

interface QueueTableProps {
  cases: ReviewCaseSummary[];
  me: string;
  selectedId: string | null;
  onSelect: (caseId: string) => void;
}

/**
 * Renders the queue as a table. Arrow keys or j and k move the selection and focus the row's link, and
 * Enter opens the selected case, unless focus is in a form control that uses those keys itself.
 */
export function QueueTable({ cases, me, selectedId, onSelect }: QueueTableProps) {
  const now = useNow();
  const links = useRef(new Map<string, HTMLAnchorElement>());

  useEffect(() => {
    const onKeyDown = (event: KeyboardEvent) => {
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || cases.length === 0) return;
      if (usesKeysItself(event.target)) return;

      const step = keyStep(event.key);
      if (step !== 0) {
        event.preventDefault();
        const current = cases.findIndex((reviewCase) => reviewCase.id === selectedId);
        const next = current === -1 ? 0 : Math.min(cases.length - 1, Math.max(0, current + step));
        const nextId = cases[next].id;
        onSelect(nextId);
        links.current.get(nextId)?.focus();
        return;
      }

      // Enter on a link or button already activates it, so this branch handles focus elsewhere, such as on the page.
      if (event.key === 'Enter' && selectedId !== null && !isActivatable(event.target)) {
        event.preventDefault();
        navigateTo(caseHref(selectedId));
      }
    };

    document.addEventListener('keydown', onKeyDown);
    return () => document.removeEventListener('keydown', onKeyDown);
  }, [cases, selectedId, onSelect]);

  return (
    <table className="queue-table">
      <caption className="visually-hidden">Cases waiting for review, most urgent SLA deadline first</caption>
      <thead>
        <tr>
          <th scope="col">Case</th>
          <th scope="col">Priority</th>
          <th scope="col">SLA</th>
          <th scope="col">State</th>
          <th scope="col">Use case</th>
          <th scope="col">Reasons</th>
          <th scope="col">Four-eyes</th>
          <th scope="col">Assignee</th>
        </tr>
      </thead>
      <tbody>
        {cases.map((reviewCase) => {
          const selected = reviewCase.id === selectedId;
          return (
            <tr
              key={reviewCase.id}
              data-testid="queue-row"
              data-case-id={reviewCase.id}
              data-selected={selected}
              className={selected ? 'queue-row selected' : 'queue-row'}
              onClick={(event) => {
                if (event.target instanceof Element && event.target.closest('a')) return;
                onSelect(reviewCase.id);
                navigateTo(caseHref(reviewCase.id));
              }}
            >
              <td>
                <a
                  href={caseHref(reviewCase.id)}
                  ref={(element) => {
                    if (element) links.current.set(reviewCase.id, element);
                    else links.current.delete(reviewCase.id);
                  }}
                  onFocus={() => onSelect(reviewCase.id)}
                  aria-label={`Open case ${reviewCase.id}`}
                  className="case-link"
                >
                  {shortId(reviewCase.id)}
                </a>
              </td>
              <td>
                <span className={`priority priority-${reviewCase.priority}`}>
                  P{reviewCase.priority} {PRIORITY_LABELS[reviewCase.priority] ?? ''}
                </span>
              </td>
              <td>
                <SlaCountdown deadline={reviewCase.slaDeadline} now={now} decided={reviewCase.state === 'DECIDED'} />
              </td>
              <td>
                <span className={`state-badge state-${reviewCase.state.toLowerCase()}`} data-state={reviewCase.state}>
                  {stateLabel(reviewCase.state)}
                </span>
              </td>
              <td className="use-case">{reviewCase.useCase}</td>
              <td>
                <ul className="plain-list">
                  {reviewCase.reasons.map((reason) => (
                    <li key={reason}>{caseReasonLabel(reason, 'short')}</li>
                  ))}
                </ul>
              </td>
              <td>{reviewCase.fourEyes ? 'Yes' : 'No'}</td>
              <td>{describeAssignee(reviewCase.assignee, me)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function describeAssignee(assignee: string | null, me: string): string {
  if (assignee === null) return 'Unassigned';
  return assignee === me ? `${assignee} (you)` : assignee;
}

function keyStep(key: string): number {
  if (key === 'ArrowDown' || key === 'j') return 1;
  if (key === 'ArrowUp' || key === 'k') return -1;
  return 0;
}

function usesKeysItself(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  return target.closest('input, select, textarea, dialog') !== null;
}

function isActivatable(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && target.closest('a, button, summary') !== null;
}
