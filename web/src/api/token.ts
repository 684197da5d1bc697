/**
 * The bearer token the pages send, kept in sessionStorage so it lasts as long as the tab and is
 * shared by the dashboard and the playground (same origin). A link may hand one over in its
 * fragment, `#token=<jwt>`, which never reaches the server's logs; it is moved into storage and
 * removed from the address bar at once.
 */

const STORAGE_KEY = 'image-pipeline.token';

/** What the pages show of a token: its subject and expiry, read without verifying it. */
export interface TokenInfo {
  subject: string | null;
  /** Expiry in epoch milliseconds, or null when the token has no `exp`. */
  expiresAt: number | null;
  admin: boolean;
}

/** The stored token, after taking one from a `#token=` fragment if the address has it. */
export function loadToken(): string {
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
  const handed = fragment.get('token');
  if (handed) {
    saveToken(handed);
    history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    return handed.trim();
  }
  return sessionStorage.getItem(STORAGE_KEY) ?? '';
}

/** Stores `token` for this tab; an empty one forgets it. */
export function saveToken(token: string): void {
  const trimmed = token.trim().replace(/^Bearer\s+/i, '');
  if (trimmed) sessionStorage.setItem(STORAGE_KEY, trimmed);
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** The `authorization` value for HTTP headers and graphql-ws connectionParams alike. */
export function bearer(token: string): string {
  return `Bearer ${token.trim().replace(/^Bearer\s+/i, '')}`;
}

/**
 * Reads a JWT's claims for display only; the service alone decides whether it is valid.
 *
 * @returns null when `token` is not shaped like a JWT
 */
export function describeToken(token: string): TokenInfo | null {
  const payload = token
    .trim()
    .replace(/^Bearer\s+/i, '')
    .split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims = JSON.parse(json) as { sub?: unknown; exp?: unknown; roles?: unknown };
    return {
      subject: typeof claims.sub === 'string' ? claims.sub : null,
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null,
      admin: Array.isArray(claims.roles) && claims.roles.includes('admin'),
    };
  } catch {
    return null;
  }
}
