import { createContext } from 'preact';
import { useContext } from 'preact/hooks';

import type { ApiError, LiveClient } from '../api/client.ts';

/** What every view needs to talk to the service with the current token. */
export interface Session {
  token: string;
  live: LiveClient;
  /** Reports a failed call; a refused token turns into the page's "token expired" state. */
  report: (error: ApiError) => void;
}

export const SessionContext = createContext<Session | null>(null);

/** The session of the signed-in views; they are only rendered once a token is set. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession needs a SessionContext provider');
  return session;
}
