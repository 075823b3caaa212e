/**
 * The node's defences on the join path, built from its configuration: the waiting room (joins beyond
 * the admission rate, or beyond the node's listener capacity, wait in line; an ended space's line and
 * its used tickets go), the counters behind the per-address limits, and the proof of work (every node
 * with the same credentials verifies what another issued). Scaled out (Redis), each node's lines move
 * at its share of the rate with tickets spent cluster-wide, the limits' counts near a limit are
 * shared (the edge spreads an address over every node), and the proof of work's state is shared.
 */
import { createSecretKey } from 'node:crypto';
import type { Logger } from 'pino';
import type { RedisRateSync } from '../api/shared-rate-counter.js';
import type { Bus } from '../bus/bus.js';
import type { Engines } from '../cluster/engines.js';
import type { Ownership } from '../cluster/ownership.js';
import type { Config } from '../config.js';
import { type Credentials, deriveSecret } from '../control/credentials.js';
import type { AudienceService } from './audience-service.js';
import { ProofOfWork } from './proof-of-work.js';
import { WaitingRoom } from './waiting-room.js';

export interface JoinDefences {
  /** Undefined when neither an admission rate nor a listener capacity is configured. */
  waitingRoom: WaitingRoom | undefined;
  pow: ProofOfWork;
  /** Undefined on a single node: the limits count locally. */
  rateSync: RedisRateSync | undefined;
  close(): Promise<void>;
}

export async function startJoinDefences(
  config: Config,
  deps: {
    engines: Engines;
    credentials: Credentials;
    audience: AudienceService;
    ownership: Ownership;
    nodeId: string;
    bus: Bus;
    log: Logger;
  },
): Promise<JoinDefences> {
  const { engines, credentials, audience, ownership, nodeId, bus, log } = deps;
  const lining = config.admissionRate > 0 || config.listenerCapacity > 0;
  const lineSharing =
    engines.redis && lining ? new (await import('./redis-line-sharing.js')).RedisLineSharing(engines.redis, nodeId) : undefined;
  if (lining) engines.implementations.waitingRoom = lineSharing?.kind ?? 'local';
  const waitingRoom = lining
    ? new WaitingRoom(createSecretKey(deriveSecret(credentials, 'rostrum waiting room')), {
        rate: config.admissionRate,
        capacity: config.listenerCapacity,
        listeners: () => audience.listenersOnNode(),
        ...(lineSharing
          ? {
              cluster: {
                node: nodeId,
                rateShare: () => 1 / Math.max(1, ownership.nodes().length),
                sharing: lineSharing,
                alive: (node: string) => ownership.nodes().some((n) => n.id === node),
              },
            }
          : {}),
      })
    : undefined;
  if (waitingRoom) bus.subscribe('space.ended', ({ spaceId }) => waitingRoom.forget(spaceId));
  const rateSync = engines.redis
    ? new (await import('../api/shared-rate-counter.js')).RedisRateSync(engines.redis, () => ownership.nodes().length)
    : undefined;
  engines.implementations.rateLimits = rateSync ? 'redis' : 'local';
  const pow = new ProofOfWork(
    {
      signature: deriveSecret(credentials, 'rostrum pow challenge').toString('hex'),
      key: deriveSecret(credentials, 'rostrum pow key').toString('hex'),
    },
    { mode: config.powMode, baseDifficulty: config.powDifficulty },
    Date.now,
    engines.redis ? new (await import('./redis-pow-coordination.js')).RedisPowCoordination(engines.redis, nodeId) : undefined,
  );
  engines.implementations.proofOfWork = engines.redis ? 'redis' : 'local';
  const powTimer = setInterval(() => {
    pow.tick();
    pow.share().catch((err: unknown) => log.warn({ err }, 'proof of work: could not share its state'));
  }, 1000);
  powTimer.unref();
  return {
    waitingRoom,
    pow,
    rateSync,
    close: async () => {
      clearInterval(powTimer);
      rateSync?.close();
      await lineSharing?.close();
      await pow.close();
    },
  };
}
