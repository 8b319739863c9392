import { useId, useState, type FormEvent } from 'react';
import { describeError } from '../api/graphql-client';
import {
  RATIONALE_LENGTH,
  REVIEW_ACTIONS,
  type ReasonCodeOption,
  type ReviewAction,
  type ReviewCase,
  type SubmitReviewInput,
} from '../api/review.types';

const ACTION_LABELS: Record<ReviewAction, string> = {
  APPROVE: 'Approve',
  DECLINE: 'Decline',
  OVERRIDE: 'Override the outcome',
  ESCALATE: 'Escalate to a senior reviewer',
  REQUEST_INFO: 'Request more information',
};

type OverrideOutcome = 'APPROVE' | 'DECLINE';

interface FormErrors {
  action?: string;
  outcome?: string;
  reasonCodes?: string;
  rationale?: string;
}

interface ReviewFormProps {
  caseId: string;
  reasonCodes: ReasonCodeOption[] | null;
  reasonCodesError: string | null;
  enabled: boolean;
  submit: (input: SubmitReviewInput) => Promise<ReviewCase>;
  onSubmitted: (updated: ReviewCase, action: ReviewAction) => void;
}

/**
 * Renders the review vote form. It checks the gateway's input rules first (rationale length,
 * outcome for an override, reason codes for a decline) and shows the gateway's message when the
 * gateway still rejects the vote.
 */
export function ReviewForm({ caseId, reasonCodes, reasonCodesError, enabled, submit, onSubmitted }: ReviewFormProps) {
  const [action, setAction] = useState<ReviewAction | ''>('');
  const [outcome, setOutcome] = useState<OverrideOutcome | ''>('');
  const [selectedCodes, setSelectedCodes] = useState<string[]>([]);
  const [rationale, setRationale] = useState('');
  const [errors, setErrors] = useState<FormErrors>({});
  const [serverError, setServerError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const ids = { action: useId(), outcome: useId(), codes: useId(), rationale: useId(), counter: useId(), server: useId() };

  const rationaleLength = rationale.trim().length;
  const declines = action === 'DECLINE' || (action === 'OVERRIDE' && outcome === 'DECLINE');

  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const found = validate(action, outcome, selectedCodes, rationaleLength, declines);
    setErrors(found);
    setServerError(null);
    if (action === '' || Object.keys(found).length > 0) {
      focusFirstInvalid(ids, found);
      return;
    }

    const input: SubmitReviewInput = { caseId, action, rationale: rationale.trim() };
    if (selectedCodes.length > 0) input.reasonCodes = selectedCodes;
    if (action === 'OVERRIDE' && outcome !== '') input.outcome = outcome;

    setPending(true);
    try {
      const updated = await submit(input);
      setAction('');
      setOutcome('');
      setSelectedCodes([]);
      setRationale('');
      onSubmitted(updated, action);
    } catch (submitError) {
      setServerError(describeError(submitError));
    } finally {
      setPending(false);
    }
  };

  const toggleCode = (code: string, checked: boolean) => {
    setSelectedCodes((codes) => (checked ? [...codes, code] : codes.filter((candidate) => candidate !== code)));
  };

  return (
    <form onSubmit={onSubmit} noValidate aria-labelledby="review-form-heading" className="review-form">
      <h3 id="review-form-heading">Your review</h3>
      <fieldset disabled={!enabled || pending} className="plain-fieldset">
        <legend className="visually-hidden">Review of case {caseId}</legend>

        <div className="form-field">
          <label htmlFor={ids.action}>Action</label>
          <select
            id={ids.action}
            data-testid="review-action"
            value={action}
            onChange={(event) => {
              const next = event.target.value as ReviewAction | '';
              setAction(next);
              if (next !== 'OVERRIDE') setOutcome('');
            }}
            aria-invalid={errors.action ? true : undefined}
            aria-describedby={errors.action ? `${ids.action}-error` : undefined}
          >
            <option value="">Choose an action</option>
            {REVIEW_ACTIONS.map((candidate) => (
              <option key={candidate} value={candidate}>
                {ACTION_LABELS[candidate]}
              </option>
            ))}
          </select>
          <FieldError id={`${ids.action}-error`} message={errors.action} />
        </div>

        {action === 'OVERRIDE' ? (
          <div className="form-field">
            <label htmlFor={ids.outcome}>New outcome</label>
            <select
              id={ids.outcome}
              data-testid="review-outcome"
              value={outcome}
              onChange={(event) => setOutcome(event.target.value as OverrideOutcome | '')}
              aria-invalid={errors.outcome ? true : undefined}
              aria-describedby={errors.outcome ? `${ids.outcome}-error` : undefined}
            >
              <option value="">Choose the new outcome</option>
              <option value="APPROVE">APPROVE</option>
              <option value="DECLINE">DECLINE</option>
            </select>
            <FieldError id={`${ids.outcome}-error`} message={errors.outcome} />
          </div>
        ) : null}

        <fieldset className="form-field reason-code-options" aria-describedby={errors.reasonCodes ? `${ids.codes}-error` : `${ids.codes}-hint`}>
          <legend>Reason codes</legend>
          <p id={`${ids.codes}-hint`} className="hint">
            {declines ? 'Required for a decline: select at least one.' : 'Optional for this action.'}
          </p>
          {reasonCodesError ? (
            <p className="field-error">
              <strong>Error:</strong> Could not load reason codes: {reasonCodesError}
            </p>
          ) : reasonCodes === null ? (
            <p className="hint">Loading reason codes…</p>
          ) : reasonCodes.length === 0 ? (
            <p className="hint">This use case defines no reason codes for reviewers.</p>
          ) : (
            reasonCodes.map((option) => (
              <label key={option.code} className="checkbox reason-code-option">
                <input
                  type="checkbox"
                  name="reasonCodes"
                  value={option.code}
                  data-testid="review-reason-code"
                  checked={selectedCodes.includes(option.code)}
                  onChange={(event) => toggleCode(option.code, event.target.checked)}
                />
                <span>
                  <code>{option.code}</code> {option.description}
                </span>
              </label>
            ))
          )}
          <FieldError id={`${ids.codes}-error`} message={errors.reasonCodes} />
        </fieldset>

        <div className="form-field">
          <label htmlFor={ids.rationale}>Rationale</label>
          <textarea
            id={ids.rationale}
            data-testid="review-rationale"
            value={rationale}
            onChange={(event) => setRationale(event.target.value)}
            rows={6}
            required
            aria-invalid={errors.rationale ? true : undefined}
            aria-describedby={errors.rationale ? `${ids.counter} ${ids.rationale}-error` : ids.counter}
          />
          <p id={ids.counter} className={rationaleLength > RATIONALE_LENGTH.max ? 'counter counter-over' : 'counter'}>
            {rationaleLength} / {RATIONALE_LENGTH.max} characters, at least {RATIONALE_LENGTH.min}
          </p>
          <FieldError id={`${ids.rationale}-error`} message={errors.rationale} />
        </div>

        {serverError ? (
          <p id={ids.server} className="error-box" data-testid="review-error">
            <strong>Error:</strong> {serverError}
          </p>
        ) : null}

        <button type="submit" className="button-primary" data-testid="review-submit">
          {pending ? 'Submitting…' : 'Submit review'}
        </button>
      </fieldset>
    </form>
  );
}

function FieldError({ id, message }: { id: string; message: string | undefined }) {
  if (!message) return null;
  return (
    <p id={id} className="field-error">
      <strong>Error:</strong> {message}
    </p>
  );
}

function validate(
  action: ReviewAction | '',
  outcome: OverrideOutcome | '',
  selectedCodes: string[],
  rationaleLength: number,
  declines: boolean,
): FormErrors {
  const errors: FormErrors = {};
  if (action === '') errors.action = 'Choose an action.';
  if (action === 'OVERRIDE' && outcome === '') errors.outcome = 'Choose the new outcome of the override.';
  if (declines && selectedCodes.length === 0) errors.reasonCodes = 'Select at least one reason code for a decline.';
  if (rationaleLength < RATIONALE_LENGTH.min) errors.rationale = `Write at least ${RATIONALE_LENGTH.min} characters.`;
  if (rationaleLength > RATIONALE_LENGTH.max) errors.rationale = `Shorten the rationale to at most ${RATIONALE_LENGTH.max} characters.`;
  return errors;
}

function focusFirstInvalid(ids: { action: string; outcome: string; codes: string; rationale: string }, errors: FormErrors): void {
  const order: Array<[keyof FormErrors, string]> = [
    ['action', ids.action],
    ['outcome', ids.outcome],
    ['reasonCodes', `${ids.codes}-error`],
    ['rationale', ids.rationale],
  ];
  const first = order.find(([key]) => errors[key] !== undefined);
  if (!first) return;

  const element = document.getElementById(first[1]);
  // A reason-code error points at its message; focus the first checkbox before it instead.
  const target = first[0] === 'reasonCodes' ? element?.closest('fieldset')?.querySelector('input') : element;
  target?.focus();
}
