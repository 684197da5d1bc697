/**
 * Prints a token signed with the configured secret (JWT_SECRET, or the one kept in DATA_DIR).
 *
 *   npm run token -- <subject> [--admin] [--expires-in <seconds>]
 */
import { parseArgs } from 'node:util';

import { signToken } from '../auth/jwt.ts';
import { loadOrCreateSecret } from '../auth/jwt-secret.ts';
import { ConfigError, loadConfig } from '../config.ts';

const USAGE = 'usage: npm run token -- <subject> [--admin] [--expires-in <seconds>]';

function readArgs() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        admin: { type: 'boolean', default: false },
        'expires-in': { type: 'string', default: '86400' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error: unknown) {
    // An option it does not know: say which, and how to call it, without a stack trace.
    console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    process.exit(2);
  }
}

const { positionals, values } = readArgs();
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const subject = positionals[0];
const expiresInSec = Number(values['expires-in']);
if (!subject || !Number.isInteger(expiresInSec) || expiresInSec <= 0) {
  console.error(USAGE);
  process.exit(2);
}

try {
  const config = loadConfig();
  if (config.jwt.publicKey) {
    console.error('JWT_PUBLIC_KEY is set: tokens come from your identity provider, not from here.');
    process.exit(2);
  }
  const secret = config.jwt.secret ?? (await loadOrCreateSecret(config.dataDir)).secret;
  console.log(
    signToken(secret, subject, {
      admin: values.admin,
      expiresInSec,
      ...(config.jwt.issuer && { issuer: config.jwt.issuer }),
      ...(config.jwt.audience && { audience: config.jwt.audience }),
    }),
  );
} catch (error: unknown) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
