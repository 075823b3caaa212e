/** The ChangeLog contract on both implementations: in process (a shared hub) and a real Redis. */
import { after, before } from 'node:test';
import { LocalChangeLog, LocalLogHub } from '../src/bus/local-change-log.js';
import { RedisChangeLog } from '../src/bus/redis-change-log.js';
import { runChangeLogContract } from './change-log-contract.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(() => redis?.destroy());

runChangeLogContract('local', async () => {
  const hub = new LocalLogHub();
  const a = new LocalChangeLog('node-a', hub);
  const b = new LocalChangeLog('node-b', hub);
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});

let streams = 0;
runChangeLogContract('redis', async () => {
  const stream = `test:changes:${++streams}`;
  const a = new RedisChangeLog(redis.url, 'node-a', { stream });
  const b = new RedisChangeLog(redis.url, 'node-b', { stream });
  await Promise.all([a.ready(), b.ready()]);
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
});
