/**
 * The service shape a bench measures. With `DATABASE_URL` and `REDIS_URL` unset it is the
 * embedded one (PGlite, in-process queue and events); set in the bench's environment, they are
 * passed on to every service the bench starts, which then runs on that PostgreSQL and Redis.
 */

/** Variables taken from the bench's environment into each service it starts. */
const PASSED_THROUGH = ['DATABASE_URL', 'DATABASE_POOL_SIZE', 'REDIS_URL'] as const;

/** The production-shape variables set in this process's environment, to give a service. */
export function productionShape(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_THROUGH) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}

/** `embedded`, or which production seams are in use, for the printed lines and the JSON. */
export function shapeName(): string {
  const env = productionShape();
  const parts = [
    env.DATABASE_URL ? 'PostgreSQL' : 'PGlite',
    env.REDIS_URL ? 'Redis' : 'in-process queue',
  ];
  return env.DATABASE_URL || env.REDIS_URL ? `production (${parts.join(', ')})` : 'embedded';
}
