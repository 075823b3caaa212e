/**
 * The composition root: reads the config, picks the implementations (SQLite store, in-process bus
 * on the embedded default), wires the services and the HTTP app, and owns shutdown. Nothing else
 * in the code knows which implementation it was given.
 */
import { createSecretKey } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { createApp } from './api/app.js';
import { Metrics } from './api/metrics.js';
import { liveSpaceHealth, registerSpaceHealth } from './api/space-metrics.js';
import { Urls } from './api/urls.js';
import { AudienceService } from './audience/audience-service.js';
import { ProofOfWork } from './audience/proof-of-work.js';
import { StateDocuments } from './audience/state-document.js';
import { TallyKeeper } from './audience/tally-keeper.js';
import { WaitingRoom } from './audience/waiting-room.js';
import { Broadcaster } from './broadcast/broadcaster.js';
import type { Bus } from './bus/bus.js';
import { LocalBus } from './bus/local-bus.js';
import type { Config } from './config.js';
import { CommandRunner } from './control/commands.js';
import { type Credentials, deriveSecret, resolveServerCredentials } from './control/credentials.js';
import { SpaceRegistry } from './control/space-registry.js';
import { SpaceService } from './control/space-service.js';
import { StageService } from './control/stage-service.js';
import { TokenAuthority } from './control/tokens.js';
import { findFfmpeg } from './media/ffmpeg.js';
import { LocalMedia } from './media/local-media.js';
import type { MediaEvents, MediaPlane } from './media/media-plane.js';
import { WorkerMedia } from './media/worker-media.js';
import { rtcNetworkOf } from './stage/rtc-network.js';
import { SignallingHub } from './stage/signalling-hub.js';
import type { SpaceStore } from './store/space-store.js';
import { SqliteSpaceStore } from './store/sqlite/sqlite-store.js';

export interface RostrumServer {
  readonly app: FastifyInstance;
  readonly config: Config;
  readonly credentials: Credentials;
  readonly urls: Urls;
  readonly spaces: SpaceService;
  readonly broadcaster: Broadcaster;
  /** The media plane (tests reach the worker through it). */
  readonly media: MediaPlane;
  readonly log: Logger;
  /** The base URL the server answers on (its public URL when one is configured). */
  readonly url: string;
  /** Where this machine reaches the server itself, whatever stands in front of it (the demo bot uses it). */
  readonly localUrl: string;
  /** Stops taking requests, lets in-flight ones finish (up to the drain deadline), closes everything. */
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
}

export async function startServer(config: Config, log: Logger = createLogger(config)): Promise<RostrumServer> {
  const credentials = resolveServerCredentials(config.dataDir, config.apiKey, config.apiSecret);
  const store: SpaceStore = new SqliteSpaceStore(path.join(config.dataDir, 'rostrum.db'));
  let metrics: Metrics | undefined;
  const bus: Bus = new LocalBus({
    onHandlerError: (err, event) => {
      log.error({ err, event }, 'event handler threw');
      metrics?.busHandlerErrors.inc({ event });
    },
    rethrow: config.strictEvents,
  });
  const tokens = new TokenAuthority([credentials], config.clockSkewSeconds);
  const registry = new SpaceRegistry(store);
  const runner = new CommandRunner(registry, store, bus, log);
  const spaces = new SpaceService(runner, store, bus);
  const stage = new StageService(runner);
  const audience = new AudienceService(registry, store, tokens, {
    apiKey: credentials.apiKey,
    listenerTokenTtlSeconds: config.listenerTokenTtlSeconds,
    listenerWindowSeconds: config.listenerWindowSeconds,
  });
  const urls = new Urls(config.publicUrl);
  let hub: SignallingHub | undefined;
  const mediaEvents: MediaEvents = {
    slot: (session, mid, identity) => hub?.slot(session, mid, identity),
    talking: (spaceId, identity, talking) => bus.publish('participant.talking', { spaceId, identity, talking }),
    restarted: () => hub?.mediaRestarted(),
  };
  // Media (WebRTC sessions, routing, mixes) in a worker thread unless configured otherwise.
  const network = rtcNetworkOf(config);
  const stageMedia = { network, voices: config.voices, coalesceMs: config.mediaCoalesceMs };
  const media: MediaPlane = config.mediaWorker ? new WorkerMedia(mediaEvents, stageMedia, log) : new LocalMedia(mediaEvents, stageMedia);
  const broadcaster = new Broadcaster(
    {
      dataDir: config.dataDir,
      mix: { ffmpeg: findFfmpeg(config.ffmpegPath), bitrate: config.aacBitrate, fragmentMs: 250, voices: config.voices },
      packager: { partsPerSegment: 8, windowSegments: config.hlsWindowSegments },
    },
    media,
    bus,
    log,
  );
  const states = new StateDocuments(audience, urls, bus, (id) => media.talking(id));
  metrics = new Metrics(() => {
    const byState: Record<string, number> = { scheduled: 0, live: 0, ended: 0 };
    let listeners = 0;
    for (const live of registry.all()) {
      byState[live.space.state] = (byState[live.space.state] ?? 0) + 1;
      if (live.space.state === 'live') listeners += audience.listeners(live.space.id);
    }
    return {
      spaces: byState,
      listeners,
      stagePackets: { ...media.packets },
      stageReceivedBy: { ...media.receivedBy },
      coalescing: media.coalescing,
      rtc: media.rtc,
    };
  });
  registerSpaceHealth(metrics.registry, () => liveSpaceHealth(registry.all(), audience, broadcaster));
  const tallies = new TallyKeeper(runner, audience, bus, config.tallyIntervalMs, (err, spaceId) =>
    log.error({ err, spaceId }, 'could not keep listener tallies'),
  );

  // Joins beyond the admission rate, or beyond the node's listener capacity, wait in line; an
  // ended space's line (and its used tickets) goes.
  const waitingRoom =
    config.admissionRate > 0 || config.listenerCapacity > 0
      ? new WaitingRoom(createSecretKey(deriveSecret(credentials, 'rostrum waiting room')), {
          rate: config.admissionRate,
          capacity: config.listenerCapacity,
          listeners: () => audience.listenersOnNode(),
        })
      : undefined;
  if (waitingRoom) bus.subscribe('space.ended', ({ spaceId }) => waitingRoom.forget(spaceId));
  // Proof of work on joins: every node with the same credentials verifies what another issued.
  const pow = new ProofOfWork(
    {
      signature: deriveSecret(credentials, 'rostrum pow challenge').toString('hex'),
      key: deriveSecret(credentials, 'rostrum pow key').toString('hex'),
    },
    { mode: config.powMode, baseDifficulty: config.powDifficulty },
  );
  const powTimer = setInterval(() => pow.tick(), 1000);
  powTimer.unref();

  let draining = false;
  let closingHttp = false;
  const app = await createApp(
    {
      spaces,
      stage,
      audience,
      states,
      broadcaster,
      waitingRoom,
      pow,
      tokens,
      credentials,
      urls,
      metrics,
      checkReady: () => store.ping(),
    },
    {
      logger: log,
      bodyLimit: config.bodyLimit,
      trustProxy: config.trustProxy,
      pressure: {
        maxEventLoopDelayMs: config.maxEventLoopDelayMs,
        maxEventLoopUtilization: config.maxEventLoopUtilizationPercent / 100,
        onShed: (lane) => {
          metrics?.shed.inc({ lane });
          if (lane === 'sheddable') pow.notePressure();
        },
      },
      limits: {
        join: config.joinLimit,
        heartbeat: config.heartbeatLimit,
        reaction: config.reactionLimit,
        request: config.requestLimit,
        write: config.writeLimit,
        addressWrite: config.addressWriteLimit,
        onLimited: (limit) => {
          metrics?.rateLimited.inc({ limit });
          if (limit === 'join') pow.notePressure();
        },
      },
      isDraining: () => draining,
      isClosing: () => closingHttp,
    },
  );
  const turn =
    config.turnUrls.length > 0 ? { urls: config.turnUrls, secret: config.turnSecret ?? '', ttlSeconds: config.turnTtlSeconds } : undefined;
  hub = new SignallingHub(registry, tokens, bus, media, log, turn);
  await hub.register(app);
  // Spaces that were live when this node last stopped (or crashed) go on air again.
  for (const space of await spaces.list({ states: ['live'], limit: 10_000 })) broadcaster.start(space.id);
  const address = await app.listen({ host: config.host, port: config.port });
  urls.listeningAt(address);
  log.info({ url: address, store: store.kind, dataDir: config.dataDir, rtc: { ...network, turn: turn?.urls ?? [] } }, 'Rostrum listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      log.info({ graceMs: config.drainGraceMs, deadlineMs: config.drainTimeoutMs }, 'draining');
      // Keep serving while balancers notice /readyz failing, then stop taking requests.
      if (config.drainGraceMs > 0) await new Promise((resolve) => setTimeout(resolve, config.drainGraceMs));
      closingHttp = true;
      hub?.close();
      const broadcastsStopped = broadcaster.close();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          log.warn('drain deadline passed; closing open connections');
          app.server.closeAllConnections();
          resolve();
        }, config.drainTimeoutMs);
        timer.unref();
      });
      const httpClosed = app.close();
      await Promise.race([httpClosed, deadline]);
      clearTimeout(timer);
      // Past the deadline the connections are cut; wait for Fastify to finish before the store closes.
      await httpClosed;
      await broadcastsStopped;
      await media.shutdown();
      await tallies.close();
      clearInterval(powTimer);
      states.close();
      await bus.close();
      await store.close();
      log.info('closed');
    })();
    return closing;
  };

  const port = (app.server.address() as AddressInfo).port;
  // Listening on every address: the one the stage's sessions bind, so a bot on this machine finds their candidates.
  const localHost =
    config.host === '0.0.0.0' || config.host === '::' ? network.listenIp : config.host.includes(':') ? `[${config.host}]` : config.host;
  const localUrl = `http://${localHost}:${port}`;
  return { app, config, credentials, urls, spaces, broadcaster, media, log, url: urls.base, localUrl, close };
}
