import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { describeError } from './api/graphql-client';
import { fetchPrincipal, ReviewApi } from './api/review-api';
import type { Principal } from './api/review.types';
import { CaseView } from './case/case-view';
import { DEFAULT_QUEUE_FILTER, type QueueFilterState } from './queue/queue-filter';
import { QueueView } from './queue/queue-view';
import { AppHeader } from './session/app-header';
import { SessionContext, type Session } from './session/session-context';
import { SignInForm } from './session/sign-in-form';
import { clearStoredToken, readStoredToken, storeToken } from './session/token-storage';
import { AnnounceContext, type Announce, type StatusMessage } from './shared/status';
import { StatusRegion } from './shared/status-region';
import { useHashRoute } from './shared/use-hash-route';

interface SignedIn {
  token: string;
  principal: Principal;
}

export function App() {
  const [status, setStatus] = useState<StatusMessage | null>(null);
  const nextStatusId = useRef(1);
  const announce = useCallback<Announce>((text, tone = 'info') => {
    setStatus({ text, tone, id: nextStatusId.current++ });
  }, []);

  // A message belongs to the view that produced it, so moving to another view clears it.
  useEffect(() => {
    const clearStatus = () => setStatus(null);
    window.addEventListener('hashchange', clearStatus);
    return () => window.removeEventListener('hashchange', clearStatus);
  }, []);

  const [signedIn, setSignedIn] = useState<SignedIn | null>(null);
  const [restoring, setRestoring] = useState(() => readStoredToken() !== null);
  const [signInError, setSignInError] = useState<string | null>(null);

  const endSession = useCallback((reason: string | null) => {
    clearStoredToken();
    setSignedIn(null);
    setSignInError(reason);
  }, []);

  // A token kept from earlier in this tab is checked again, because it may have expired since.
  useEffect(() => {
    const token = readStoredToken();
    if (token === null) return;

    const controller = new AbortController();
    fetchPrincipal(token, controller.signal)
      .then((principal) => setSignedIn({ token, principal }))
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        endSession(`The saved token is no longer valid: ${describeError(error)}`);
      })
      .finally(() => {
        if (!controller.signal.aborted) setRestoring(false);
      });
    return () => controller.abort();
  }, [endSession]);

  const signIn = useCallback(
    async (token: string) => {
      try {
        const principal = await fetchPrincipal(token);
        storeToken(token);
        setSignInError(null);
        setSignedIn({ token, principal });
        announce(`Signed in as ${principal.subject} for tenant ${principal.tenant}.`, 'success');
      } catch (error) {
        const message = describeError(error);
        setSignInError(message);
        announce(message, 'error');
      }
    },
    [announce],
  );

  const signOut = useCallback(() => {
    endSession(null);
    announce('Signed out.');
  }, [endSession, announce]);

  const session = useMemo<Session | null>(() => {
    if (!signedIn) return null;
    const onUnauthenticated = (message: string) => {
      const reason = `Your session ended: ${message} Sign in again.`;
      endSession(reason);
      announce(reason, 'error');
    };
    return { principal: signedIn.principal, api: new ReviewApi(signedIn.token, onUnauthenticated) };
  }, [signedIn, endSession, announce]);

  return (
    <AnnounceContext value={announce}>
      <AppHeader principal={session?.principal ?? null} onSignOut={signOut} />
      <StatusRegion message={status} onDismiss={() => setStatus(null)} />
      {session ? (
        <SessionContext value={session}>
          <SignedInRoutes />
        </SessionContext>
      ) : restoring ? (
        <main id="main" tabIndex={-1} className="page">
          <p>Checking your saved session…</p>
        </main>
      ) : (
        <SignInForm onSignIn={signIn} error={signInError} />
      )}
    </AnnounceContext>
  );
}

function SignedInRoutes() {
  const route = useHashRoute();
  // The queue selects the case the reviewer last opened, so returning from a case keeps the place.
  const [lastCaseId, setLastCaseId] = useState<string | null>(null);
  const [queueFilter, setQueueFilter] = useState<QueueFilterState>(DEFAULT_QUEUE_FILTER);

  return (
    <main id="main" tabIndex={-1} className="page">
      {route.view === 'case' ? (
        <CaseView key={route.caseId} caseId={route.caseId} onOpen={setLastCaseId} />
      ) : (
        <QueueView filter={queueFilter} onFilterChange={setQueueFilter} initialSelectedId={lastCaseId} />
      )}
    </main>
  );
}
