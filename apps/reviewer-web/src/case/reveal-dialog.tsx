import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { describeError } from '../api/graphql-client';
import { REVEAL_REASON_LENGTH, type CaseField } from '../api/review.types';

interface RevealDialogProps {
  field: string;
  reveal: (reason: string) => Promise<CaseField>;
  onRevealed: (field: CaseField) => void;
  onClose: () => void;
}

/**
 * Renders a modal dialog that requests the reason for revealing a masked value, then reveals it.
 * The gateway records the reveal and its reason in the ledger.
 */
export function RevealDialog({ field, reveal, onRevealed, onClose }: RevealDialogProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const headingId = useId();
  const counterId = useId();
  const errorId = useId();

  useEffect(() => {
    const dialog = dialogRef.current;
    if (dialog && !dialog.open) dialog.showModal();
  }, []);

  const length = reason.trim().length;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (length < REVEAL_REASON_LENGTH.min || length > REVEAL_REASON_LENGTH.max) {
      setError(`Write a reason of ${REVEAL_REASON_LENGTH.min} to ${REVEAL_REASON_LENGTH.max} characters.`);
      return;
    }

    setPending(true);
    setError(null);
    try {
      onRevealed(await reveal(reason.trim()));
    } catch (revealError) {
      setError(describeError(revealError));
      setPending(false);
    }
  };

  return (
    <dialog ref={dialogRef} className="dialog" aria-labelledby={headingId} onClose={onClose} data-testid="reveal-dialog">
      <form onSubmit={submit} noValidate>
        <h2 id={headingId}>Reveal {field}</h2>
        <p>The unmasked value and your reason are recorded in the ledger.</p>

        <label htmlFor="reveal-reason">Reason for revealing {field}</label>
        <textarea
          id="reveal-reason"
          data-testid="reveal-reason"
          value={reason}
          onChange={(event) => {
            setReason(event.target.value);
            setError(null);
          }}
          rows={4}
          autoFocus
          aria-describedby={error ? `${counterId} ${errorId}` : counterId}
          aria-invalid={error ? true : undefined}
        />
        <p id={counterId} className="counter">
          {length} / {REVEAL_REASON_LENGTH.max} characters, at least {REVEAL_REASON_LENGTH.min}
        </p>
        {error ? (
          <p id={errorId} className="field-error">
            <strong>Error:</strong> {error}
          </p>
        ) : null}

        <div className="dialog-actions">
          <button type="button" className="button-secondary" onClick={() => dialogRef.current?.close()} disabled={pending}>
            Cancel
          </button>
          <button type="submit" className="button-primary" data-testid="reveal-confirm" disabled={pending}>
            {pending ? 'Revealing…' : `Reveal ${field}`}
          </button>
        </div>
      </form>
    </dialog>
  );
}
