/**
 * `npm start`: the service in the shape the configuration asks for (API, worker, or both).
 */
import { signToken } from './auth/jwt.ts';
import type { Config } from './config.ts';
import { ConfigError, loadConfig } from './config.ts';
import { DataDirError } from './db/data-dir-lock.ts';
import type { Logger } from './observability/logger.ts';
import { createLogger } from './observability/logger.ts';
import type { Service } from './service.ts';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error: unknown) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

async function start(config: Config, logger: Logger): Promise<Service> {
  try {
    // Loaded after the configuration is checked, so a bad variable is reported at once rather
    // than after the whole service (sharp, Prisma, Apollo) has been loaded.
    const { startService } = await import('./service.ts');
    return await startService(config, logger);
  } catch (error: unknown) {
    if (error instanceof DataDirError || error instanceof ConfigError) {
      logger.error(error.message);
    } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      logger.error(
        `Port ${config.port} on ${config.host} is already in use; stop what uses it or set PORT.`,
      );
    } else logger.error('could not start', { error });
    process.exit(1);
  }
}

const config = readConfig();
const logger = createLogger(config.log);

// Signals are heard from the first moment: one that arrives while the service is still starting
// stops it as soon as it has started, so nothing is left half open.
const shutdown: { signal?: string; handler?: (signal: string) => void } = {};
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    shutdown.signal ??= signal;
    shutdown.handler?.(signal);
  });
}

const service = await start(config, logger);

/** The exit code of a process ended by an interrupt (128 + SIGINT's number), as shells use it. */
const INTERRUPTED = 130;

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) {
    // A second Ctrl-C: the person at the terminal will not wait for the images in flight. What
    // they leave unfinished is resumed at the next start, as after a crash.
    if (signal === 'SIGINT') {
      logger.warn(
        'interrupted again: exiting without waiting; unfinished images resume at the next start',
      );
      process.exit(INTERRUPTED);
    }
    return;
  }
  stopping = true;
  logger.info('stopping', {
    signal,
    graceMs: config.shutdownGraceMs,
    ...(signal === 'SIGINT' && { hint: 'press Ctrl-C again to exit at once' }),
  });
  await service.stop();
  logger.info('stopped');
  process.exit(0);
}
shutdown.handler = (signal) => void stop(signal);

if (config.role !== 'worker' && !config.jwt.secret && service.jwtSecret) {
  // Printed, not logged: log lines never carry tokens. This one is for the person at the
  // terminal of a development setup (JWT_SECRET unset).
  console.log(
    `Ready token for subject "dev" (valid 24 h):\n${signToken(service.jwtSecret, 'dev')}`,
  );
}
logger.info(`listening on ${service.url}`, {
  url: service.url,
  role: config.role,
  ...(config.role !== 'api' && { concurrency: config.processing.concurrency }),
});
if (shutdown.signal) await stop(shutdown.signal);
