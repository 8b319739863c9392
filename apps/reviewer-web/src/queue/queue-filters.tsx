import { CASE_STATES, type CaseState } from '../api/review.types';
import { stateLabel } from '../shared/format';
import type { QueueFilterState } from './queue-filter';

interface QueueFiltersProps {
  filter: QueueFilterState;
  useCases: string[];
  onChange: (filter: QueueFilterState) => void;
}

export function QueueFilters({ filter, useCases, onChange }: QueueFiltersProps) {
  const toggleState = (state: CaseState, checked: boolean) => {
    const states = checked ? [...filter.states, state] : filter.states.filter((candidate) => candidate !== state);
    // Keep the order of CASE_STATES, so the query does not change with the click order.
    onChange({ ...filter, states: CASE_STATES.filter((candidate) => states.includes(candidate)) });
  };

  return (
    <form className="queue-filters panel" aria-label="Queue filters" onSubmit={(event) => event.preventDefault()}>
      <fieldset className="state-filter">
        <legend>State</legend>
        <div className="checkbox-row">
          {CASE_STATES.map((state) => (
            <label key={state} className="checkbox">
              <input
                type="checkbox"
                name="state"
                value={state}
                data-testid="queue-filter-state"
                checked={filter.states.includes(state)}
                onChange={(event) => toggleState(state, event.target.checked)}
              />
              {stateLabel(state)}
            </label>
          ))}
        </div>
      </fieldset>

      <div className="filter-field">
        <label htmlFor="queue-use-case">Use case</label>
        <select
          id="queue-use-case"
          data-testid="queue-filter-use-case"
          value={filter.useCase}
          onChange={(event) => onChange({ ...filter, useCase: event.target.value })}
        >
          <option value="">All use cases</option>
          {useCases.map((useCase) => (
            <option key={useCase} value={useCase}>
              {useCase}
            </option>
          ))}
        </select>
      </div>

      <div className="filter-field">
        <label className="checkbox">
          <input
            type="checkbox"
            data-testid="queue-filter-mine"
            checked={filter.assignedToMe}
            onChange={(event) => onChange({ ...filter, assignedToMe: event.target.checked })}
          />
          Assigned to me
        </label>
      </div>
    </form>
  );
}
