import { CASE_STATES, type CaseState, type ReviewQueueFilter } from '../api/review.types';

/** Queue filters as the form stores them. An empty use case means every use case. */
export interface QueueFilterState {
  states: CaseState[];
  useCase: string;
  assignedToMe: boolean;
}

// The same default as the gateway's: every state except DECIDED.
export const DEFAULT_QUEUE_FILTER: QueueFilterState = {
  states: CASE_STATES.filter((state) => state !== 'DECIDED'),
  useCase: '',
  assignedToMe: false,
};

export function toQueryFilter(filter: QueueFilterState): ReviewQueueFilter {
  const query: ReviewQueueFilter = { states: filter.states };
  if (filter.useCase !== '') query.useCase = filter.useCase;
  if (filter.assignedToMe) query.assignedToMe = true;
  return query;
}
