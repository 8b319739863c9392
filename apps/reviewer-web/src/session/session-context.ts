import { createContext, useContext } from 'react';
import type { ReviewApi } from '../api/review-api';
import type { Principal } from '../api/review.types';

export interface Session {
  principal: Principal;
  api: ReviewApi;
}

export const SessionContext = createContext<Session | null>(null);

/** Returns the signed-in session; only views rendered after sign-in may call it. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession was called outside a signed-in session.');
  return session;
}
