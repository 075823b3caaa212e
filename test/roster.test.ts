/** Roster: the contract on one node (the embedded default) and on Redis (two nodes on a real redis-server). */
import { after, before } from 'node:test';
import { RedisRoster } from '../src/audience/redis-roster.js';
import { LocalRoster } from '../src/audience/roster.js';
import { connectRedis, waitReady } from '../src/cluster/redis-connection.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { runRosterContract } from './roster-contract.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis?.destroy());

const WINDOW_MS = 2000;
let clusters = 0;

runRosterContract('local', async () => ({ nodes: [new LocalRoster(WINDOW_MS)], windowMs: WINDOW_MS, cleanup: async () => {} }));
runRosterContract('redis', async () => {
  const prefix = `t${process.pid}-${++clusters}:`;
  const connections = [connectRedis(redis.url, 'roster-0'), connectRedis(redis.url, 'roster-1')];
  for (const c of connections) await waitReady(c);
  const nodes = connections.map((c) => new RedisRoster(c, WINDOW_MS, prefix, 3_600_000));
  return {
    nodes,
    windowMs: WINDOW_MS,
    cleanup: async () => {
      for (const n of nodes) await n.close();
      for (const c of connections) c.disconnect();
    },
  };
});
