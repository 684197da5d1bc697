import type { ImageServer } from './image-server.ts';
import { startImageServer } from './image-server.ts';
import { redisUrl } from './redis.ts';
import type { TestService } from './service.ts';
import { startTestService } from './service.ts';
import { productionResources } from './shape.ts';
import type { TcpProxy } from './tcp-proxy.ts';
import { startTcpProxy } from './tcp-proxy.ts';

/** A production-shape service whose Redis a test can take away, and images it can fetch. */
export interface ServiceBehindRedisProxy {
  service: TestService;
  /** Between the service and Redis: `down()` is the outage, `up()` its end. */
  proxy: TcpProxy;
  images: ImageServer;
  /** Stops the service and removes what it made, then the proxy and the image server. */
  stop(): Promise<void>;
}

/**
 * Starts a service on a fresh database and key prefix that reaches Redis through a TCP proxy on
 * loopback, so closing the proxy is a Redis outage for this service alone.
 */
export async function startServiceBehindRedisProxy(): Promise<ServiceBehindRedisProxy> {
  const target = new URL(redisUrl);
  const [proxy, resources, images] = await Promise.all([
    startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) }),
    productionResources(),
    startImageServer(),
  ]);
  const service = await startTestService({
    ...resources.env,
    REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
  });
  return {
    service,
    proxy,
    images,
    stop: async () => {
      await service.stop();
      await resources.release();
      await proxy.close();
      await images.close();
    },
  };
}
