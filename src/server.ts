/**
 * The composition root: reads the config, opens the engines it names (SQLite and in process on the
 * embedded default; PostgreSQL and Redis scaled out), picks ownership, wires the services and the
 * HTTP app, and owns shutdown. Nothing else in the code knows which implementation it was given.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import { createApp } from './api/app.js';
import { Metrics } from './api/metrics.js';
import { registerRecordingMetrics } from './api/recording-metrics.js';
import { liveSpaceHealth, registerSpaceHealth } from './api/space-metrics.js';
import { registerStageMetrics } from './api/stage-metrics.js';
import { registerStreamMetrics } from './api/stream-metrics.js';
import { Urls } from './api/urls.js';
import { AudienceService } from './audience/audience-service.js';
import { type Crowd, LocalCrowd } from './audience/crowd.js';
import { InviteTags } from './audience/invite-tags.js';
import { startJoinDefences } from './audience/join-defences.js';
import { LocalRoster, type Roster } from './audience/roster.js';
import { StateDocuments } from './audience/state-document.js';
import { TallyKeeper } from './audience/tally-keeper.js';
import { Broadcaster } from './broadcast/broadcaster.js';
import { ReplayCounter } from './broadcast/replay-counter.js';
import type { Bus } from './bus/bus.js';
import { LocalBus } from './bus/local-bus.js';
import { registerClusterMetrics } from './cluster/cluster-metrics.js';
import { openEngines, redactUrl } from './cluster/engines.js';
import { LocalOwnership } from './cluster/local-ownership.js';
import { generatedNodeId, type NodeInfo, nodeKey } from './cluster/node-identity.js';
import type { Ownership } from './cluster/ownership.js';
import { ChangeFeed, ReadViews } from './cluster/read-views.js';
import { followPlacement, resumeAtStart } from './cluster/space-placement.js';
import type { Config } from './config.js';
import { AutoStarter } from './control/auto-start.js';
import { CommandRunner } from './control/commands.js';
import { type Credentials, resolveServerCredentials } from './control/credentials.js';
import { makeDataDir, warnIfLoose } from './control/data-dir.js';
import { SpaceRegistry } from './control/space-registry.js';
import { SpaceService } from './control/space-service.js';
import { StageService } from './control/stage-service.js';
import { TokenAuthority } from './control/tokens.js';
import type { SpaceId } from './ids.js';
import { findFfmpeg } from './media/ffmpeg.js';
import { LocalMedia } from './media/local-media.js';
import type { MediaEvents, MediaPlane } from './media/media-plane.js';
import { WorkerMedia } from './media/worker-media.js';
import { rtcNetworkOf } from './stage/rtc-network.js';
import { SEAT_KEEPER, SeatKeeper } from './stage/seat-keeper.js';
import { SignallingHub } from './stage/signalling-hub.js';
import { werift } from './stage/werift-adapter.js';
import { type NodeWebhooks, startWebhooks } from './webhooks/webhooks.js';

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
  if (config.redisUrl && !(config.apiKey && config.apiSecret)) {
    // Each node would otherwise make its own and refuse the tokens the others mint.
    throw new Error('With ROSTRUM_REDIS_URL (several nodes), set ROSTRUM_API_KEY and ROSTRUM_API_SECRET: every node must share them.');
  }
  makeDataDir(config.dataDir);
  warnIfLoose(config.dataDir, log);
  const credentials = resolveServerCredentials(config.dataDir, config.apiKey, config.apiSecret);
  const nodeId = config.nodeId ?? generatedNodeId();
  const engines = await openEngines(config, nodeId, log);
  const { store } = engines;
  // Its URL once it listens (unless configured): readiness and, scaled out, the other nodes read it.
  const node: NodeInfo = { id: nodeId, url: config.nodeUrl ?? '' };
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
  // Which node runs each space: this one (embedded default), or a lease in Redis.
  const ownership: Ownership = engines.redis
    ? new (await import('./cluster/redis-ownership.js')).RedisOwnership(node, engines.redis, store, {
        onError: (err, what) => log.error({ err }, `ownership: ${what}`),
      })
    : new LocalOwnership(node, async (id) => (await registry.find(id)) !== undefined);
  engines.implementations.ownership = ownership.kind;
  // Changes go on the change log for the other nodes' read views; theirs come back into ours.
  const feed = new ChangeFeed(engines.changeLog, ownership);
  const readViews = new ReadViews(engines.changeLog, registry, bus, ownership);
  const runner = new CommandRunner(registry, store, bus, log, ownership, (id, ops, events) => feed.share(id, ops, events));
  const spaces = new SpaceService(runner, store);
  const stage = new StageService(runner, config.clockSkewSeconds * 1000);
  // Listener counts and reaction totals: this node's own, or every node's merged in Redis.
  const redisCrowd = engines.redis
    ? new (await import('./audience/redis-crowd.js')).RedisCrowd(engines.redis, { windowMs: config.listenerWindowSeconds * 1000 })
    : undefined;
  const crowd: Crowd = redisCrowd ?? new LocalCrowd(config.listenerWindowSeconds * 1000);
  // The named listeners a host can invite: this node's, or every node's in Redis.
  const roster: Roster = engines.redis
    ? new (await import('./audience/redis-roster.js')).RedisRoster(engines.redis, config.listenerWindowSeconds * 1000)
    : new LocalRoster(config.listenerWindowSeconds * 1000);
  engines.implementations.crowd = crowd.kind;
  const audience = new AudienceService(
    registry,
    store,
    tokens,
    {
      apiKey: credentials.apiKey,
      listenerTokenTtlSeconds: config.listenerTokenTtlSeconds,
      listenerWindowSeconds: config.listenerWindowSeconds,
    },
    Date.now,
    crowd,
    roster,
  );
  const urls = new Urls(config.publicUrl);
  let hub: SignallingHub | undefined;
  const mediaEvents: MediaEvents = {
    slot: (session, mid, identity) => hub?.slot(session, mid, identity),
    talking: (spaceId, identity, talking) => {
      bus.publish('participant.talking', { spaceId, identity, talking });
      feed.share(spaceId, [], [['participant.talking', { spaceId, identity, talking }]]);
    },
    restarted: () => hub?.mediaRestarted(),
  };
  // Media (WebRTC sessions, routing, mixes) in a worker thread unless configured otherwise.
  const network = rtcNetworkOf(config);
  const stageMedia = { network, voices: config.voices, coalesceMs: config.mediaCoalesceMs };
  const media: MediaPlane = config.mediaWorker ? new WorkerMedia(mediaEvents, stageMedia, log) : new LocalMedia(mediaEvents, stageMedia);
  // The stage's fast paths reach into werift's internals: only on the version they were written for.
  const rtcLibrary = werift();
  if (!rtcLibrary.fastPaths)
    log.warn({ werift: rtcLibrary.version, reason: rtcLibrary.reason }, "the stage runs on werift's own paths (slower)");
  const broadcaster = new Broadcaster(
    {
      recordings: engines.recordings,
      mix: {
        ffmpeg: findFfmpeg(config.ffmpegPath),
        bitrate: config.aacBitrate,
        fragmentMs: config.broadcast.fragmentMs,
        voices: config.voices,
      },
      packager: { timing: config.broadcast, windowSegments: config.hlsWindowSegments },
      streamEdges: config.streamEdges.length > 0 ? { urls: config.streamEdges, key: config.streamEdgeKey! } : undefined,
    },
    media,
    bus,
    log,
    (id) => ownership.owns(id),
    (id) => ownership.fence(id),
  );
  // A recording made here is news for every node (pages, feeds). A space's last change (its end, or
  // its recording made) lets the feed forget the space's numbering.
  bus.subscribe('recording.ready', (ready) => {
    if (ownership.owns(ready.spaceId)) feed.share(ready.spaceId, [], [['recording.ready', ready]]);
    feed.forget(ready.spaceId);
  });
  bus.subscribe('space.ended', ({ spaceId, recording }) => {
    if (!recording) feed.forget(spaceId);
  });
  const inviteTags = new InviteTags(credentials);
  const states = new StateDocuments(
    audience,
    urls,
    bus,
    (id) => (ownership.owns(id) ? media.talking(id) : readViews.talking(id)),
    inviteTags,
  );
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
  engines.health.register(metrics.registry);
  registerStreamMetrics(metrics, broadcaster.streams);

  registerClusterMetrics(metrics, { changeLog: engines.changeLog, readViews, crowd: redisCrowd?.stats });
  registerSpaceHealth(metrics.registry, () => liveSpaceHealth(registry.all(), audience, broadcaster));
  const tallies = new TallyKeeper(runner, audience, bus, config.tallyIntervalMs, (err, spaceId) =>
    log.error({ err, spaceId }, 'could not keep listener tallies'),
  );

  const {
    waitingRoom,
    pow,
    rateSync,
    close: closeDefences,
  } = await startJoinDefences(config, {
    engines,
    credentials,
    audience,
    ownership,
    nodeId,
    bus,
    log,
  });
  metrics.nodeInfo(nodeId, engines.implementations);

  let draining = false;
  let closingHttp = false;
  let webhooks: NodeWebhooks | undefined;
  const replays = new ReplayCounter(store, log);
  const app = await createApp(
    {
      spaces,
      stage,
      audience,
      states,
      broadcaster,
      inviteTags,
      waitingRoom,
      pow,
      tokens,
      credentials,
      urls,
      metrics,
      ownership,
      webhooks: store.webhooks,
      replays,
      nudgeWebhooks: () => webhooks?.worker.nudge(),
      // The node's own store is a readiness dependency; shared engines are reported (engine-health.ts).
      checkReady: async () => {
        for (const status of engines.health.status()) {
          if (!status.shared && !status.up) throw new Error(`${status.engine}: ${status.error ?? 'does not answer'}`);
        }
        if (store.kind === 'sqlite') await store.ping();
      },
      cluster: () => ({ node, implementations: engines.implementations, engines: engines.health.status() }),
    },
    {
      logger: log,
      bodyLimit: config.bodyLimit,
      requestTimeoutMs: config.requestTimeoutMs,
      trustProxy: config.trustProxy,
      addressConnections: config.addressConnections,
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
        spaceCreate: config.spaceCreateLimit,
        onLimited: (limit) => {
          metrics?.rateLimited.inc({ limit });
          if (limit === 'join') pow.notePressure();
        },
        counters: rateSync?.factory,
      },
      isDraining: () => draining,
      isClosing: () => closingHttp,
    },
  );
  const turn =
    config.turnUrls.length > 0 ? { urls: config.turnUrls, secret: config.turnSecret ?? '', ttlSeconds: config.turnTtlSeconds } : undefined;
  hub = new SignallingHub(registry, tokens, bus, media, log, turn, {
    ownership,
    clusterKey: nodeKey(credentials),
  });
  registerRecordingMetrics(metrics, engines.recordings);
  const stageHub = hub;
  await hub.register(app);
  // Speakers whose connection died (or never came) lose their seat after a grace period (seat-keeper.ts).
  const seats = new SeatKeeper(config.stageGraceMs, {
    registry,
    bus,
    present: (id, identity) => stageHub.present(id, identity),
    owns: (id) => ownership.owns(id),
    move: (id, identity) => stage.moveToAudience(id, SEAT_KEEPER, identity),
    log,
  });
  hub.onPresence((id, identity, present) => seats.presence(id, identity, present));
  registerStageMetrics(metrics, hub, seats, rtcLibrary);
  // How this node takes spaces up and lets them go (space-placement.ts).
  const placement = { ownership, registry, spaces, store, broadcaster, seats, hub: stageHub, feed, bus, log };
  followPlacement(placement);
  // Spaces that start by themselves go live at their time, started by the node that runs them.
  const runsHere = async (id: SpaceId) => (await ownership.ownerOf(id)).id === ownership.node.id;
  const autoStarter = new AutoStarter(spaces, bus, runsHere, log);
  await autoStarter.start();
  // The operator's webhooks: this node's delivery worker, reminders due, recordings made (webhooks/).
  webhooks = await startWebhooks({ store, registry, bus, config, node: nodeId, runsHere, log });
  await resumeAtStart(placement);
  const address = await app.listen({ host: config.host, port: config.port });
  urls.listeningAt(address);
  log.info(
    {
      url: address,
      node: nodeId,
      implementations: engines.implementations,
      dataDir: config.dataDir,
      ...(config.databaseUrl ? { database: redactUrl(config.databaseUrl) } : {}),
      ...(config.redisUrl ? { redis: redactUrl(config.redisUrl) } : {}),
      rtc: { ...network, turn: turn?.urls ?? [] },
    },
    'Rostrum listening',
  );

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
      await crowd.close();
      await roster.close();
      await ownership.close();
      readViews.close();
      autoStarter.close();
      await webhooks?.close();
      await replays.close();
      seats.close();
      await closeDefences();
      states.close();
      await bus.close();
      await engines.close();
      log.info('closed');
    })();
    return closing;
  };

  const port = (app.server.address() as AddressInfo).port;
  // Listening on every address: the one the stage's sessions bind, so a bot on this machine finds their candidates.
  const localHost =
    config.host === '0.0.0.0' || config.host === '::' ? network.listenIp : config.host.includes(':') ? `[${config.host}]` : config.host;
  const localUrl = `http://${localHost}:${port}`;
  if (!node.url) node.url = localUrl;
  await ownership.start();
  // Scaled out, every node holds a copy of every live space: it answers their listeners even while the store is away.
  if (ownership.kind !== 'local') {
    await readViews
      .preload(async () => (await spaces.list({ states: ['live'], limit: 10_000 })).map((s) => s.id))
      .catch((err: unknown) => {
        log.warn({ err }, 'could not load the live spaces at start');
      });
  }
  return { app, config, credentials, urls, spaces, broadcaster, media, log, url: urls.base, localUrl, close };
}
