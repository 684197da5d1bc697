import { useState } from 'preact/hooks';

import { describeToken } from '../api/token.ts';
import { formatDate } from './format.ts';

interface Props {
  token: string;
  /** The service refused the token (expired, revoked or signed with another secret). */
  refused: boolean;
  /** The token's own `exp` has passed. */
  expired: boolean;
  onToken: (token: string) => void;
}

/** Who the dashboard acts as, and a form to paste a token when there is none or it failed. */
export function TokenPanel(props: Props) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const info = describeToken(props.token);
  const needsToken = !props.token || props.refused || props.expired || editing;

  if (!needsToken) {
    return (
      <section class="token token-ok" aria-label="Access token">
        <p>
          Signed in as <strong>{info?.subject ?? 'an unknown subject'}</strong>
          {info?.admin && ' (admin)'}
          {info?.expiresAt != null && (
            <> · token valid until {formatDate(new Date(info.expiresAt).toISOString())}</>
          )}
        </p>
        <div class="token-actions">
          <button
            type="button"
            onClick={() => {
              setEditing(true);
            }}
          >
            Change token
          </button>
          <button
            type="button"
            onClick={() => {
              props.onToken('');
            }}
          >
            Forget token
          </button>
        </div>
      </section>
    );
  }

  const submit = (event: Event) => {
    event.preventDefault();
    setEditing(false);
    props.onToken(draft);
    setDraft('');
  };
  return (
    <section class="token" aria-labelledby="token-title">
      <h2 id="token-title">
        {props.token && !editing ? 'Your token no longer works' : 'Sign in with a token'}
      </h2>
      {props.token && !editing && (
        <p class="alert" role="alert">
          {props.expired
            ? 'This token has expired. Paste a new one to go on.'
            : 'The service refused this token: it may have expired or been signed with another secret. Paste a new one to go on.'}
        </p>
      )}
      <p>
        Every call needs a JWT. <code>npm start</code> prints one for the subject <code>dev</code>;{' '}
        <code>npm run -s token -- &lt;subject&gt;</code> makes one for anyone. A link ending in{' '}
        <code>#token=&lt;jwt&gt;</code> signs this tab in directly.
      </p>
      <form class="token-form" onSubmit={submit}>
        <label for="token-input">Access token</label>
        <input
          id="token-input"
          type="password"
          autoComplete="off"
          spellcheck={false}
          required
          placeholder="eyJhbGciOi…"
          value={draft}
          onInput={(event) => {
            setDraft(event.currentTarget.value);
          }}
        />
        <button type="submit">Use token</button>
        {editing && (
          <button
            type="button"
            onClick={() => {
              setEditing(false);
            }}
          >
            Keep the current token
          </button>
        )}
      </form>
    </section>
  );
}
