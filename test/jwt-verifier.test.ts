import { createHmac, generateKeyPairSync } from 'node:crypto';

import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';

import { AuthenticationError, createTokenVerifier } from '../src/auth/jwt.ts';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claims = () => ({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 });

/** An HS256 token whose HMAC key is the server's public key text: the classic confusion. */
function signedWithPublicKeyAsSecret(): string {
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims())}`;
  return `${unsigned}.${createHmac('sha256', publicPem).update(unsigned).digest('base64url')}`;
}

describe('token verification with JWT_PUBLIC_KEY', () => {
  const verify = createTokenVerifier({ publicKey: publicPem, clockToleranceSec: 30 });
  const refusal = (token: string) => {
    try {
      verify(token);
      return null;
    } catch (error: unknown) {
      return error instanceof AuthenticationError ? error.message : error;
    }
  };

  it('accepts RS256 signed with the matching private key, exp moved by the tolerance', () => {
    const token = jwt.sign(claims(), rsa.privateKey, { algorithm: 'RS256' });

    const verified = verify(token);

    expect(verified.viewer).toEqual({ subject: 'alice', isAdmin: false });
    expect(verified.expiresAt).toBe((claims().exp + 30) * 1000);
  });

  it.each([
    ['HS256 keyed with the public key text', signedWithPublicKeyAsSecret],
    ['alg none', () => `${b64({ alg: 'none' })}.${b64(claims())}.`],
    ['ES256 from another key', () => jwt.sign(claims(), ec.privateKey, { algorithm: 'ES256' })],
    [
      'RS256 from another key',
      () =>
        jwt.sign(claims(), generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, {
          algorithm: 'RS256',
        }),
    ],
  ])('refuses %s with the one UNAUTHENTICATED message', (_name, make) => {
    expect(refusal(make())).toBe('A valid bearer token is required.');
  });
});
