/**
 * Picks the engines a node runs on from its configuration and opens them: the durable store
 * (PostgreSQL with ROSTRUM_DATABASE_URL, else SQLite in the data directory) with the recordings
 * beside it (PostgreSQL, else the data directory), and with
 * ROSTRUM_REDIS_URL a Redis connection for what nodes share plus the change log on a Redis Stream
 * (else in process). With neither URL it is today's single node, unchanged. `implementations` names
 * what was picked for each interface (/readyz, /metrics, the start-up log).
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DirRecordingStore } from '../broadcast/recording-dir.js';
import type { RecordingStore } from '../broadcast/recording-store.js';
import type { ChangeLog } from '../bus/change-log.js';
import { LocalChangeLog } from '../bus/local-change-log.js';
import type { Config } from '../config.js';
import type { SpaceStore } from '../store/space-store.js';
import { SqliteSpaceStore } from '../store/sqlite/sqlite-store.js';
import { EngineHealth, type EngineProbe, type EngineStatus } from './engine-health.js';

export interface Engines {
  store: SpaceStore;
  /** Broadcasts' recordings: the data directory, or PostgreSQL beside the store. */
  recordings: RecordingStore;
  changeLog: ChangeLog;
  /** The node's command connection to Redis (leases, counters, limits), when one is configured. */
  redis: Redis | undefined;
  /** What each interface runs on here: { store: 'postgres', changeLog: 'redis', … }. */
  implementations: Record<string, string>;
  health: EngineHealth;
  close(): Promise<void>;
}

/** A URL with its password masked, for logs and /readyz. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

export async function openEngines(config: Config, nodeId: string, log: Logger): Promise<Engines> {
  // The scaled-out engines' clients (pg, ioredis) are loaded only when configured: the embedded
  // default carries none of their code.
  const store: SpaceStore = config.databaseUrl
    ? await (await import('../store/postgres/pg-store.js')).PostgresSpaceStore.open(config.databaseUrl)
    : new SqliteSpaceStore(path.join(config.dataDir, 'rostrum.db'));
  const recordings: RecordingStore = config.databaseUrl
    ? new (await import('../store/postgres/pg-recordings.js')).PostgresRecordingStore(
        config.databaseUrl,
        path.join(config.dataDir, 'recordings'),
        log,
        config.recordingBacklogSeconds,
      )
    : new DirRecordingStore(path.join(config.dataDir, 'broadcasts'), { log, maxBacklogSeconds: config.recordingBacklogSeconds });
  let redis: Redis | undefined;
  let changeLog: ChangeLog = new LocalChangeLog(nodeId);
  if (config.redisUrl) {
    const { connectRedis, waitReady } = await import('./redis-connection.js');
    redis = connectRedis(config.redisUrl, `rostrum:${nodeId}`);
    if (!(await waitReady(redis))) log.warn({ redis: redactUrl(config.redisUrl) }, 'Redis does not answer yet; starting without it');
    const { RedisChangeLog } = await import('../bus/redis-change-log.js');
    changeLog = new RedisChangeLog(config.redisUrl, nodeId, { onHandlerError: (err) => log.error({ err }, 'a change log follower threw') });
  }

  const probes: EngineProbe[] = [
    {
      engine: store.kind,
      uses: recordings.shared ? ['store', 'recordings'] : ['store'],
      shared: store.kind !== 'sqlite',
      ping: () => store.ping(),
    },
  ];
  // The data directory's disk: the recordings (embedded default), the SQLite store, the credentials.
  // Below ROSTRUM_MIN_FREE_MB free, or while recording writes fail, the node is not ready.
  probes.push({
    engine: 'disk',
    uses: recordings.shared ? ['dataDir'] : ['dataDir', 'recordings'],
    shared: false,
    ping: async () => {
      // The recordings' directory may be a volume of its own.
      const dirs = recordings.shared ? [config.dataDir] : [config.dataDir, path.join(config.dataDir, 'broadcasts')];
      for (const dir of dirs) {
        const stats = await fsp.statfs(dir).catch(() => undefined);
        if (!stats) continue;
        const freeMb = Math.floor((stats.bavail * stats.bsize) / 2 ** 20);
        if (freeMb < config.minFreeMb) throw new Error(`${freeMb} MiB free in ${dir}, under ROSTRUM_MIN_FREE_MB=${config.minFreeMb}`);
      }
      const failing = recordings.shared ? undefined : recordings.counters.failing();
      if (failing) throw new Error(`recording writes are failing: ${failing}`);
    },
  });
  if (redis) {
    probes.push({
      engine: 'redis',
      uses: ['changeLog', 'ownership'],
      shared: true,
      ping: async () => {
        await redis.ping();
      },
    });
  }
  const health = new EngineHealth(probes, 2000, (status: EngineStatus) => {
    if (status.up) log.info({ engine: status.engine }, 'engine answers again');
    else log.warn({ engine: status.engine, error: status.error }, 'engine does not answer');
  });
  await health.start();
  const implementations: Record<string, string> = { store: store.kind, recordings: recordings.kind, changeLog: changeLog.kind };
  return {
    store,
    recordings,
    changeLog,
    redis,
    implementations,
    health,
    close: async () => {
      health.close();
      await changeLog.close();
      redis?.disconnect();
      await recordings.close();
      await store.close();
    },
  };
}
