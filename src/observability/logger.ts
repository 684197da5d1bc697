import { AsyncLocalStorage } from 'node:async_hooks';

import winston from 'winston';

/**
 * Structured logging. Lines carry whatever fields the code that runs them put in the log
 * context (`httpRequestId`, `requestId`, `imageId`, ...), and pass through one redaction format
 * at the logger level, so no transport can write a token, a secret or a signed URL.
 */

export type Logger = winston.Logger;
type Fields = Record<string, unknown>;

const context = new AsyncLocalStorage<Fields>();

/**
 * Runs `fn` with `fields` added to every line logged inside it, across awaits.
 *
 * @param inherit - false starts from no fields, for work (a queued job) that outlives the
 *   context that started it
 */
export function withLogContext<T>(fields: Fields, fn: () => T, inherit = true): T {
  return context.run(inherit ? { ...context.getStore(), ...fields } : fields, fn);
}

const SECRET_KEY =
  /authori[sz]ation|cookie|token|secret|password|connectionparams|signature|apikey/i;
const URL_WITH_QUERY = /\b(https?|wss?|postgres(?:ql)?|rediss?):\/\/[^\s"'<>]+/gi;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT_LIKE = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const WEBHOOK_SECRET = /\bwhsec_[A-Za-z0-9+/=]+/g;

/** Removes credentials from free text: bearer tokens, JWTs, URL passwords and query strings. */
export function redactText(text: string): string {
  return text
    .replace(BEARER, '$1 [redacted]')
    .replace(JWT_LIKE, '[redacted-jwt]')
    .replace(WEBHOOK_SECRET, '[redacted-secret]')
    .replace(URL_WITH_QUERY, (match) => {
      if (!URL.canParse(match)) return match.replace(/\?.*$/, '?[redacted]');
      const url = new URL(match);
      if (!url.search && !url.password) return match;
      if (url.password) url.password = 'redacted';
      return `${url.origin.replace('//', `//${url.username}${url.password ? ':redacted' : ''}${url.username ? '@' : ''}`)}${url.pathname}${url.search ? '?[redacted]' : ''}`;
    });
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error)
    return {
      name: value.name,
      message: redactText(value.message),
      stack: value.stack && redactText(value.stack),
    };
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      SECRET_KEY.test(k) ? '[redacted]' : redactValue(v, depth + 1),
    ]),
  );
}

const redact = winston.format((info) => {
  for (const key of Object.keys(info)) {
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : redactValue(info[key], 0);
  }
  return info;
});

const addContext = winston.format((info) =>
  Object.assign(info, { ...context.getStore(), ...info }),
);

const pretty = winston.format.printf(({ level, message, timestamp, ...fields }) => {
  const extra = Object.entries(fields)
    .filter(([k, v]) => k !== 'service' && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${String(timestamp)} ${level} ${String(message)}${extra ? ` ${extra}` : ''}`;
});

/**
 * Creates the process's logger.
 *
 * @param options.format - `json` (one object per line) or `pretty` (readable in a terminal)
 * @param options.stream - where lines go; standard output by default
 */
export function createLogger(options: {
  level: string;
  format: 'json' | 'pretty';
  stream?: NodeJS.WritableStream;
}): Logger {
  // Colours only for a person at a terminal, not for a file or a pipe.
  const colours = !options.stream && process.stdout.isTTY;
  const base = [
    addContext(),
    winston.format.errors({ stack: true }),
    redact(),
    winston.format.timestamp(),
  ];
  const format =
    options.format === 'json'
      ? winston.format.combine(...base, winston.format.json())
      : winston.format.combine(...base, ...(colours ? [winston.format.colorize()] : []), pretty);
  // The transport sets no level of its own: the logger's level is the only gate.
  const transports = [
    options.stream
      ? new winston.transports.Stream({ stream: options.stream })
      : new winston.transports.Console(),
  ];
  return winston.createLogger({ level: options.level, format, transports });
}
