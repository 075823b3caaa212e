/**
 * How every Redis connection of a node behaves: a command never waits for Redis to come back (no
 * offline queue: a writer must not stall on an engine, and a backlog replayed minutes later would be
 * worse than the fallbacks each user of Redis has), reconnects forever with a capped backoff, and a
 * connection error is a state (readiness, metrics), not a crash.
 */
import { Redis } from 'ioredis';

export function connectRedis(url: string, name: string): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 2000,
    retryStrategy: (times: number) => Math.min(100 * 2 ** times, 2000),
  });
  redis.on('error', () => {});
  return redis;
}

/**
 * Resolves once the connection is up, or after `timeoutMs` either way (a node starts while Redis is
 * away, and works in its away mode until it answers). True when it is up.
 */
export async function waitReady(redis: Redis, timeoutMs = 5000): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const done = (up: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(up);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on('ready', onReady);
  });
}
