import { useId, useState, type FormEvent } from 'react';

interface SignInFormProps {
  onSignIn: (token: string) => Promise<void>;
  /** The gateway's message from the last failed sign-in or the session that ended. */
  error: string | null;
}

const TOKEN_COMMAND = 'npm run warden -- token --tenant demo-bank --role reviewer --subject alice';

export function SignInForm({ onSignIn, error }: SignInFormProps) {
  const [token, setToken] = useState('');
  const [pending, setPending] = useState(false);
  const [emptyTokenError, setEmptyTokenError] = useState(false);
  const hintId = useId();
  const errorId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const trimmed = token.trim();
    setEmptyTokenError(trimmed === '');
    if (trimmed === '') return;

    setPending(true);
    try {
      await onSignIn(trimmed);
    } finally {
      setPending(false);
    }
  };

  const shownError = emptyTokenError ? 'Paste a token first.' : error;

  return (
    <main id="main" tabIndex={-1} className="page sign-in">
      <h1>Sign in to Warden review</h1>
      <form onSubmit={submit} noValidate className="panel sign-in-form">
        <label htmlFor="signin-token">Warden token</label>
        <textarea
          id="signin-token"
          data-testid="signin-token"
          value={token}
          onChange={(event) => setToken(event.target.value)}
          rows={5}
          spellCheck={false}
          autoComplete="off"
          aria-describedby={shownError ? `${hintId} ${errorId}` : hintId}
          aria-invalid={shownError ? true : undefined}
        />
        <p id={hintId} className="hint">
          Paste a bearer token that holds the reviewer role. In embedded mode, print one with{' '}
          <code>{TOKEN_COMMAND}</code>
        </p>
        {shownError ? (
          <p id={errorId} className="field-error">
            <strong>Error:</strong> {shownError}
          </p>
        ) : null}
        <button type="submit" className="button-primary" data-testid="signin-submit" disabled={pending}>
          {pending ? 'Checking token…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
