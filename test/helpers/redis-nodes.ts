/**
 * One real redis-server for a test file, and sets of connections to it that stand for nodes sharing
 * through Redis — each set under a key prefix of its own, so the tests of a file never see each
 * other's keys.
 */
import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { connectRedis, waitReady } from '../../src/cluster/redis-connection.js';
import { startRedis, type TestRedis } from './redis.js';

export interface NodeConnections {
  /** The key prefix this set's nodes share. */
  readonly prefix: string;
  /** One connection a node, all ready. */
  readonly connections: Redis[];
  disconnect(): void;
}

export interface SharedRedis {
  /** The server (started before the file's tests, destroyed after them). */
  readonly server: TestRedis;
  connect(count: number, name: string): Promise<NodeConnections>;
}

export function useRedis(): SharedRedis {
  let server: TestRedis | undefined;
  let sets = 0;
  before(async () => {
    server = await startRedis();
  });
  after(() => server?.destroy());
  return {
    get server() {
      if (!server) throw new Error('redis-server is not started yet (use it inside a test)');
      return server;
    },
    async connect(count, name) {
      const prefix = `t${process.pid}-${++sets}:`;
      const connections = Array.from({ length: count }, (_, i) => connectRedis(this.server.url, `${name}-${i}`));
      for (const c of connections) await waitReady(c);
      return {
        prefix,
        connections,
        disconnect: () => {
          for (const c of connections) c.disconnect();
        },
      };
    },
  };
}
