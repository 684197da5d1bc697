/**
 * The GraphQL playground served at GET /graphql: GraphiQL with its schema docs and history,
 * under a bar whose token field signs both HTTP operations (the `authorization` header) and
 * subscriptions over graphql-ws (`connectionParams.authorization`).
 */
import 'graphiql/setup-workers/vite';
import 'graphiql/style.css';
import './playground.css';

import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { GraphiQL } from 'graphiql';
import { createClient } from 'graphql-ws';
import { createElement as h, useEffect, useMemo, useState } from 'react';
import type { SyntheticEvent } from 'react';
import { createRoot } from 'react-dom/client';

import { bearer, describeToken, loadToken, saveToken } from '../api/token.ts';
import { graphqlUrl, websocketUrl } from '../api/urls.ts';

const EXAMPLE = `# Paste a token above, then run an operation with the ▶ button (Ctrl+Enter).
# Docs: the book icon on the left. Subscriptions stream below as events arrive.

query MyRequests {
  requests(first: 5) {
    edges { node { id status fileName progress { percent completed failed total } } }
  }
}

subscription Progress($id: ID!) {
  requestProgress(id: $id) {
    requestId
    status
    progress { total completed failed pending percent }
    image { id status outputUrl error }
  }
}
`;

function TokenBar(props: { token: string; onToken: (token: string) => void }) {
  const [draft, setDraft] = useState(props.token);
  const info = describeToken(props.token);
  const submit = (event: SyntheticEvent) => {
    event.preventDefault();
    props.onToken(draft);
  };

  return h(
    'form',
    { className: 'token-bar', onSubmit: submit, 'aria-label': 'Access token' },
    h('a', { href: '/', className: 'token-bar-home' }, 'image-pipeline'),
    h('label', { htmlFor: 'playground-token' }, 'Bearer token'),
    h('input', {
      id: 'playground-token',
      type: 'password',
      autoComplete: 'off',
      spellCheck: false,
      placeholder: 'eyJ… (npm run -s token -- <subject>)',
      value: draft,
      onChange: (event: { currentTarget: HTMLInputElement }) => {
        setDraft(event.currentTarget.value);
      },
    }),
    h('button', { type: 'submit' }, 'Use token'),
    h(
      'span',
      { className: 'token-bar-status', role: 'status' },
      props.token
        ? `Signed in as ${info?.subject ?? 'an unknown subject'}`
        : 'No token yet: paste one to load the schema and run operations',
    ),
  );
}

function Playground() {
  const [token, setToken] = useState(loadToken);
  const fetcher = useMemo(() => {
    const authorization = token ? bearer(token) : undefined;
    const wsClient = createClient({
      url: websocketUrl(),
      lazy: true,
      connectionParams: authorization ? { authorization } : {},
    });
    return Object.assign(
      createGraphiQLFetcher({
        url: graphqlUrl(),
        wsClient,
        headers: authorization ? { authorization } : {},
      }),
      { dispose: () => wsClient.dispose() },
    );
  }, [token]);
  useEffect(() => () => void fetcher.dispose(), [fetcher]);

  const useToken = (next: string) => {
    saveToken(next);
    setToken(next.trim().replace(/^Bearer\s+/i, ''));
  };

  return h(
    'div',
    { className: 'playground-shell' },
    h(TokenBar, { token, onToken: useToken }),
    h(
      'main',
      { className: 'playground-main' },
      h(GraphiQL, { fetcher, defaultQuery: EXAMPLE, shouldPersistHeaders: false }),
    ),
  );
}

const container = document.getElementById('playground');
if (container) createRoot(container).render(h(Playground));
