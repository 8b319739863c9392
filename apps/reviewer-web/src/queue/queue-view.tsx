import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError, isAbortError } from '../api/graphql-client';
import type { ReviewCaseSummary } from '../api/review.types';
import { useSession } from '../session/session-context';
import { useAnnounce } from '../shared/status';
import { toQueryFilter, type QueueFilterState } from './queue-filter';
import { QueueFilters } from './queue-filters';
import { QueueTable } from './queue-table';

const AUTO_REFRESH_MS = 15_000;

interface QueueViewProps {
  filter: QueueFilterState;
  onFilterChange: (filter: QueueFilterState) => void;
  /** The case to select first, usually the one the reviewer last opened. */
  initialSelectedId: string | null;
}

export function QueueView({ filter, onFilterChange, initialSelectedId }: QueueViewProps) {
  const { api, principal } = useSession();
  const announce = useAnnounce();

  const [cases, setCases] = useState<ReviewCaseSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(initialSelectedId);
  const [seenUseCases, setSeenUseCases] = useState<string[]>([]);
  const latestRequest = useRef<AbortController | null>(null);

  const load = useCallback(
    async (announceResult: boolean) => {
      latestRequest.current?.abort();
      if (filter.states.length === 0) {
        setCases([]);
        setError(null);
        return;
      }

      const controller = new AbortController();
      latestRequest.current = controller;
      setLoading(true);
      try {
        const result = await api.reviewQueue(toQueryFilter(filter), controller.signal);
        const sorted = [...result].sort((a, b) => Date.parse(a.slaDeadline) - Date.parse(b.slaDeadline));
        setCases(sorted);
        setError(null);
        setUpdatedAt(new Date());
        setSeenUseCases((known) => mergeUseCases(known, sorted));
        if (announceResult) announce(`Queue refreshed: ${describeCount(sorted.length)}.`);
      } catch (loadError) {
        if (isAbortError(loadError)) return;
        const message = describeError(loadError);
        setError(message);
        announce(`Could not load the queue: ${message}`, 'error');
      } finally {
        if (latestRequest.current === controller) setLoading(false);
      }
    },
    [api, filter, announce],
  );

  useEffect(() => {
    void load(false);
    const timer = window.setInterval(() => {
      if (!document.hidden) void load(false);
    }, AUTO_REFRESH_MS);
    return () => {
      window.clearInterval(timer);
      latestRequest.current?.abort();
    };
  }, [load]);

  // Returning from a case puts focus back on that case's row, once the rows exist.
  const focusPending = useRef(initialSelectedId !== null);
  useEffect(() => {
    if (!focusPending.current || cases === null) return;
    focusPending.current = false;
    const row = document.querySelector(`[data-testid="queue-row"][data-case-id="${CSS.escape(initialSelectedId ?? '')}"] a`);
    if (row instanceof HTMLElement) row.focus();
  }, [cases, initialSelectedId]);

  // The selected use case stays an option even when no loaded case carries it.
  const useCaseOptions = filter.useCase === '' || seenUseCases.includes(filter.useCase) ? seenUseCases : [...seenUseCases, filter.useCase].sort();

  return (
    <section aria-labelledby="queue-heading">
      <div className="view-heading">
        <h1 id="queue-heading">Review queue</h1>
        <div className="view-heading-actions">
          <p className="updated-at" aria-live="off">
            {describeFreshness(loading, updatedAt)}
          </p>
          <button type="button" className="button-secondary" onClick={() => void load(true)} data-testid="queue-refresh">
            Refresh
          </button>
        </div>
      </div>

      <QueueFilters filter={filter} useCases={useCaseOptions} onChange={onFilterChange} />

      {error ? (
        <p className="error-box">
          <strong>Error:</strong> {error}
        </p>
      ) : null}

      {filter.states.length === 0 ? (
        <p className="empty-state">Choose at least one state to see cases.</p>
      ) : cases === null ? (
        error ? null : <p className="empty-state">Loading the queue…</p>
      ) : cases.length === 0 ? (
        <p className="empty-state">No cases match these filters.</p>
      ) : (
        <>
          <p className="hint" id="queue-keys">
            {describeCount(cases.length)}. Keys: <kbd>↓</kbd> or <kbd>j</kbd> and <kbd>↑</kbd> or <kbd>k</kbd> move the
            selection, <kbd>Enter</kbd> opens the selected case.
          </p>
          <QueueTable cases={cases} me={principal.subject} selectedId={selectedId} onSelect={setSelectedId} />
        </>
      )}
    </section>
  );
}

function mergeUseCases(known: string[], cases: ReviewCaseSummary[]): string[] {
  const merged = new Set(known);
  for (const reviewCase of cases) merged.add(reviewCase.useCase);
  return merged.size === known.length ? known : [...merged].sort();
}

function describeFreshness(loading: boolean, updatedAt: Date | null): string | null {
  if (loading) return 'Loading…';
  if (updatedAt === null) return null;
  return `Updated ${updatedAt.toLocaleTimeString()}, refreshes every ${AUTO_REFRESH_MS / 1000} s`;
}

function describeCount(count: number): string {
  return count === 1 ? '1 case' : `${count} cases`;
}
