import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';

import type { ApiError } from '../api/client.ts';
import { LiveClient } from '../api/client.ts';
import { describeToken, loadToken, saveToken } from '../api/token.ts';
import { useRequests, useRoute } from './hooks.ts';
import { RequestDetail } from './RequestDetail.tsx';
import { RequestList } from './RequestList.tsx';
import { SessionContext } from './session.ts';
import { TokenPanel } from './TokenPanel.tsx';
import { UploadPanel } from './UploadPanel.tsx';

/** The dashboard: a token, then the list of requests with an upload form, or one request. */
export function App() {
  const [token, setToken] = useState(loadToken);
  const [refused, setRefused] = useState(false);
  const route = useRoute();
  useEffect(() => {
    // A #token= link opened in a tab that already shows the dashboard changes only the hash.
    const onHash = () => {
      if (!location.hash.includes('token=')) return;
      setRefused(false);
      setToken(loadToken());
    };
    addEventListener('hashchange', onHash);
    return () => {
      removeEventListener('hashchange', onHash);
    };
  }, []);

  const live = useMemo(
    () =>
      new LiveClient(token, () => {
        setRefused(true);
      }),
    [token],
  );
  useEffect(
    () => () => {
      live.dispose();
    },
    [live],
  );
  const report = useCallback((error: ApiError) => {
    if (error.code === 'UNAUTHENTICATED') setRefused(true);
  }, []);
  const session = useMemo(() => ({ token, live, report }), [token, live, report]);

  const expiresAt = describeToken(token)?.expiresAt ?? null;
  const expired = expiresAt !== null && expiresAt <= Date.now();
  const changeToken = (next: string) => {
    saveToken(next);
    setRefused(false);
    setToken(next.trim().replace(/^Bearer\s+/i, ''));
  };

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <h1 class="brand">
          <a href="#/">image-pipeline</a>
        </h1>
        <nav aria-label="Main">
          <a href="#/">Requests</a>
          <a href="/graphql">GraphQL playground</a>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <TokenPanel token={token} refused={refused} expired={expired} onToken={changeToken} />
        {token && !refused && !expired && (
          <SessionContext.Provider value={session}>
            {route.view === 'request' ? <RequestDetail id={route.id} /> : <RequestsPage />}
          </SessionContext.Provider>
        )}
      </main>
    </>
  );
}

function RequestsPage() {
  const requests = useRequests();
  return (
    <>
      <UploadPanel onUploaded={requests.add} />
      <RequestList {...requests} />
    </>
  );
}
