import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** A certificate and its key, as files and as the bytes TLS options take. */
export interface SelfSigned {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/**
 * Makes a one-day self-signed P-256 certificate for `commonName` with `openssl`, written into
 * `dir` (which the caller removes), so no key is ever committed.
 *
 * @param altNames - subjectAltName entries, e.g. `['IP:127.0.0.1', 'DNS:localhost']`
 */
export async function selfSignedCertificate(
  dir: string,
  commonName: string,
  altNames: readonly string[] = [],
): Promise<SelfSigned> {
  const [certFile, keyFile] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${commonName}`,
    ...(altNames.length > 0 ? ['-addext', `subjectAltName=${altNames.join(',')}`] : []),
    '-keyout',
    keyFile,
    '-out',
    certFile,
  ]);
  const [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  return { certFile, keyFile, cert, key };
}
