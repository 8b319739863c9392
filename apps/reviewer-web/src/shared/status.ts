import { createContext, useContext } from 'react';

export type StatusTone = 'info' | 'success' | 'error';

export interface StatusMessage {
  text: string;
  tone: StatusTone;
  /** Distinguishes two equal messages in a row, so the live region announces both. */
  id: number;
}

export type Announce = (text: string, tone?: StatusTone) => void;

export const AnnounceContext = createContext<Announce>(() => undefined);

/** Returns the function that shows a message in the page's live status region. */
export function useAnnounce(): Announce {
  return useContext(AnnounceContext);
}
