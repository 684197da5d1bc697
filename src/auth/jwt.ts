import { createPublicKey, createSecretKey } from 'node:crypto';

import jwt from 'jsonwebtoken';

import type { Viewer } from '../domain/viewer.ts';
import { hasControlCharacter } from '../domain/text.ts';

/** How tokens are checked; built once from the configuration. */
export interface JwtVerifierOptions {
  /** HS256 secret; used when no public key is set. */
  secret?: string | undefined;
  /** PEM public key for RS256 or ES256 tokens. */
  publicKey?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Seconds of clock difference tolerated on `exp`, `nbf` and `iat`. */
  clockToleranceSec: number;
}

/**
 * A token was missing, malformed, forged or expired. Clients get one message for all of them,
 * so a refusal tells a prober nothing about which check failed; `reason` stays internal.
 */
export class AuthenticationError extends Error {
  constructor(readonly reason: 'missing' | 'invalid' | 'expired') {
    super('A valid bearer token is required.');
    this.name = 'AuthenticationError';
  }
}

export interface VerifiedToken {
  viewer: Viewer;
  /**
   * When the token stops being accepted, in epoch milliseconds: its `exp` plus the clock
   * tolerance, so an open WebSocket is closed at the moment a new request would be refused.
   * Null when the token has no `exp`.
   */
  expiresAt: number | null;
}

export type TokenVerifier = (token: string) => VerifiedToken;

/** A subject the service can store and show: 1 to 256 characters, no control characters. */
function isUsableSubject(subject: string): boolean {
  const length = Array.from(subject).length;
  return length >= 1 && length <= 256 && !hasControlCharacter(subject);
}

/**
 * Whether `iat`, when present, is a time that has already come. jsonwebtoken reads `iat` only
 * for `maxAge`; a token issued in the future is taken as a broken issuer clock or a forgery,
 * not as a token that is valid now, within the same tolerance as `exp` and `nbf`.
 */
function issuedInThePast(iat: unknown, toleranceSec: number): boolean {
  if (iat === undefined) return true;

  return typeof iat === 'number' && iat <= Date.now() / 1000 + toleranceSec;
}

/**
 * Returns the one function every transport uses to check a token. The algorithms are pinned
 * (HS256 with a secret; RS256 or ES256 with a public key), so neither `none` nor a token signed
 * with the public key as an HMAC secret passes.
 *
 * Time claims, each with `clockToleranceSec`: an `exp` that has passed, an `nbf` still to come
 * and an `iat` in the future are refused. A token without `exp` is accepted and does not expire
 * (the contract honours `exp`, it does not demand it); `npm run token` and the token printed at
 * first start always carry one.
 *
 * @throws AuthenticationError from the returned function for any token that is not valid
 */
export function createTokenVerifier(options: JwtVerifierOptions): TokenVerifier {
  if (!options.publicKey && !options.secret) {
    throw new Error('JWT verification needs a secret or a public key');
  }
  // A key object made once: given a string, jsonwebtoken first tries it as a public key on
  // every call (and throws, for a secret) before it takes it as a secret.
  const key = options.publicKey
    ? createPublicKey(options.publicKey)
    : createSecretKey(Buffer.from(options.secret ?? '', 'utf8'));
  const algorithms: jwt.Algorithm[] = options.publicKey ? ['RS256', 'ES256'] : ['HS256'];

  return (token) => {
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, key, {
        algorithms,
        clockTolerance: options.clockToleranceSec,
        ...(options.issuer && { issuer: options.issuer }),
        ...(options.audience && { audience: options.audience }),
      });
    } catch (error: unknown) {
      throw new AuthenticationError(error instanceof jwt.TokenExpiredError ? 'expired' : 'invalid');
    }
    if (
      typeof payload === 'string' ||
      typeof payload.sub !== 'string' ||
      !isUsableSubject(payload.sub) ||
      !issuedInThePast(payload.iat, options.clockToleranceSec)
    ) {
      throw new AuthenticationError('invalid');
    }

    const roles: unknown = (payload as { roles?: unknown }).roles;
    return {
      viewer: { subject: payload.sub, isAdmin: Array.isArray(roles) && roles.includes('admin') },
      expiresAt:
        typeof payload.exp === 'number' ? (payload.exp + options.clockToleranceSec) * 1000 : null,
    };
  };
}

/** The token of an `Authorization: Bearer …` value, or null when there is none. */
export function bearerToken(header: unknown): string | null {
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

/** Signs an HS256 token, for `npm run token` and tests. */
export function signToken(
  secret: string,
  subject: string,
  options: { admin?: boolean; expiresInSec?: number; issuer?: string; audience?: string } = {},
): string {
  return jwt.sign(options.admin ? { roles: ['admin'] } : {}, secret, {
    algorithm: 'HS256',
    subject,
    expiresIn: options.expiresInSec ?? 24 * 3600,
    ...(options.issuer && { issuer: options.issuer }),
    ...(options.audience && { audience: options.audience }),
  });
}
