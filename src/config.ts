/**
 * Every option Rostrum reads, its default and its environment variable, in one place.
 * The CLI maps flags onto the same fields; nothing else in the code reads process.env.
 */
import path from 'node:path';
import { LIMITS } from './control/model.js';
import { parseAddresses, parsePortRange } from './stage/rtc-network.js';
import { parseIceUrls } from './stage/turn-credentials.js';
import type { DeliverySettings } from './webhooks/delivery-worker.js';

export interface Config {
  /** Interface to listen on. Default 127.0.0.1 (ROSTRUM_HOST, --host). */
  host: string;
  /** TCP port; 0 picks a free one. Default 8080 (ROSTRUM_PORT, --port). */
  port: number;
  /** Folder for the SQLite file, the generated credentials and recordings. Default ./data (ROSTRUM_DATA, --data). */
  dataDir: string;
  /** Base URL printed in links (hostUrl, listenUrl, playlistUrl). Default http://<host>:<port> (ROSTRUM_PUBLIC_URL). */
  publicUrl: string | undefined;
  /** Operator API key; when unset with no secret either, one is generated in dataDir. (ROSTRUM_API_KEY) */
  apiKey: string | undefined;
  /** Operator API secret, at least 32 characters. (ROSTRUM_API_SECRET) */
  apiSecret: string | undefined;
  /** Lifetime of a listener token minted by the join endpoint, seconds. Default 21600 = 6 h (ROSTRUM_LISTENER_TOKEN_TTL). */
  listenerTokenTtlSeconds: number;
  /** Clock skew tolerated when checking token times, seconds. Default 30 (ROSTRUM_CLOCK_SKEW). */
  clockSkewSeconds: number;
  /** Window over which a heartbeat counts a listener as present, seconds; listeners heartbeat every 11/12 of it. Default 60 (ROSTRUM_LISTENER_WINDOW). */
  listenerWindowSeconds: number;
  /** How often live spaces' peak and total listener counts are written to the store, ms. Default 30000 (ROSTRUM_TALLY_INTERVAL_MS). */
  tallyIntervalMs: number;
  /** Reactions one token may send per 10 s before getting 429. Default 20 (ROSTRUM_REACTION_LIMIT). */
  reactionLimit: number;
  /** Requests to speak and reminder sign-ups one address may make per minute. Default 30 (ROSTRUM_REQUEST_LIMIT). */
  requestLimit: number;
  /** Joins one address may make per 10 s before getting 429; 0 = no limit. Default 100: generous for listeners behind one NAT, tight for one flooding machine (ROSTRUM_JOIN_LIMIT). */
  joinLimit: number;
  /** Heartbeats one listener token may send per minute; 0 = no limit. Default 20 (ROSTRUM_HEARTBEAT_LIMIT). */
  heartbeatLimit: number;
  /** Any other write (stage and moderation actions, space changes) one token may make per minute; 0 = no limit. Default 600 (ROSTRUM_WRITE_LIMIT). */
  writeLimit: number;
  /** Writes other than joins one address may make per minute; 0 = no limit. Default 6000 (ROSTRUM_ADDRESS_WRITE_LIMIT). */
  addressWriteLimit: number;
  /**
   * How long a speaker may be without a stage connection before their seat is freed (moved to the
   * audience), ms; 0 = never. Default 60000 (ROSTRUM_STAGE_GRACE_MS).
   */
  stageGraceMs: number;
  /** Spaces one operator identity may create per hour; 0 = no cap. Default 600 (ROSTRUM_SPACE_CREATE_LIMIT). */
  spaceCreateLimit: number;
  /**
   * Webhook deliveries (webhooks/delivery-worker.ts): one attempt's timeout (ROSTRUM_WEBHOOK_TIMEOUT_MS,
   * 10000), the retries' backoff base and cap (ROSTRUM_WEBHOOK_BACKOFF_MS, 5000;
   * ROSTRUM_WEBHOOK_BACKOFF_CAP_MS, 3600000), how long a delivery is retried before it is parked as
   * failed (ROSTRUM_WEBHOOK_RETRY_FOR_MS, 86400000: a day), attempts in flight per node
   * (ROSTRUM_WEBHOOK_CONCURRENCY, 16), how long finished deliveries and their attempts are kept
   * (ROSTRUM_WEBHOOK_KEEP_DAYS, 30; webhooks/delivery-pruner.ts).
   */
  webhooks: DeliverySettings & { keepMs: number };
  /**
   * Connections one client address may hold open at once (a trusted proxy's are not counted);
   * beyond it new ones are closed at once. 0 = no cap. Default 256 (ROSTRUM_ADDRESS_CONNECTIONS).
   */
  addressConnections: number;
  /** Largest accepted request body, bytes. Default 16384 (ROSTRUM_BODY_LIMIT). */
  bodyLimit: number;
  /**
   * How long a request's headers and body may take to arrive, ms (the answer may take longer: a
   * blocking playlist request, a held stream). Default 30000 (ROSTRUM_REQUEST_TIMEOUT_MS).
   */
  requestTimeoutMs: number;
  /** On shutdown, how long /readyz fails while requests are still served, so balancers move away, ms. Default 0 (ROSTRUM_DRAIN_GRACE_MS). */
  drainGraceMs: number;
  /** How long shutdown waits for in-flight requests before it exits anyway, ms. Default 10000 (ROSTRUM_DRAIN_MS). */
  drainTimeoutMs: number;
  /** Addresses or CIDRs of the edge proxies in front of this node, comma-separated; their X-Forwarded-For names the client. Default none (ROSTRUM_TRUST_PROXY). */
  trustProxy: string[];
  /** Joins admitted per second per space; faster arrivals get a waiting-room ticket. Default 0 = no waiting room (ROSTRUM_ADMISSION_RATE). */
  admissionRate: number;
  /**
   * Listeners this node serves at once, all spaces together; beyond it joiners wait in line until
   * places free up. Default 0 = no cap (ROSTRUM_LISTENER_CAPACITY).
   */
  listenerCapacity: number;
  /** Proof of work on the join path: auto (on under sustained pressure, harder while it lasts), on, or off. Default auto (ROSTRUM_POW). */
  powMode: 'auto' | 'on' | 'off';
  /** Largest counter a level-1 challenge hides (about 0.75 × this many SHA-256 to solve; Chromium does ~150 k/s on one core here). Default 50000 (ROSTRUM_POW_DIFFICULTY). */
  powDifficulty: number;
  /** Mean event-loop delay beyond which new joins are shed with 503 (reads at three times it), ms. Default 100 (ROSTRUM_MAX_EVENT_LOOP_DELAY_MS). */
  maxEventLoopDelayMs: number;
  /** Event-loop utilisation beyond which new joins are shed, percent; 0 = not checked. Default 0: one 250 ms sample of a busy but healthy loop (a start-up, a GC) reads near 100 %, so delay is the default signal (ROSTRUM_MAX_ELU_PERCENT). */
  maxEventLoopUtilizationPercent: number;
  /** Run the media plane (WebRTC, routing, mixes) in a worker thread. Default true; ROSTRUM_MEDIA_WORKER=0 keeps it on the main thread. */
  mediaWorker: boolean;
  /** The media worker's receive-coalescing window under load, ms: up to this much latency for far fewer wake-ups (media/receive-coalescing.ts). Default 10; 0 turns it off (ROSTRUM_MEDIA_COALESCE_MS, 0–20). */
  mediaCoalesceMs: number;
  /** ffmpeg to encode and remux with. Default: ffmpeg on PATH, else the npm @ffmpeg-installer build (ROSTRUM_FFMPEG). */
  ffmpegPath: string | undefined;
  /** AAC bitrate of the broadcast, bits/s. Default 64000 (ROSTRUM_AAC_BITRATE). */
  aacBitrate: number;
  /** Voices heard at once, on stage and in the broadcast mix: the loudest of those talking. Default 3 (ROSTRUM_VOICES, 1–13; 13 is everyone). */
  voices: number;
  /** Whole segments (≈ 2 s each) a live playlist lists. Default 6 (ROSTRUM_HLS_WINDOW). */
  hlsWindowSegments: number;
  /**
   * Seconds of a recording held in memory while its writes fail (a full disk, PostgreSQL away), per
   * space; past it the oldest segments become gaps. At least the live window and two segments more.
   * Default 600 (ROSTRUM_RECORDING_BACKLOG).
   */
  recordingBacklogSeconds: number;
  /**
   * Free space the data directory needs, MiB: below it the node is not ready (/readyz) and says so
   * before the disk is full. Default 64 (ROSTRUM_MIN_FREE_MB).
   */
  minFreeMb: number;
  /** The broadcast's timing, all derived from one setting, the part length (ROSTRUM_PART_MS, default 256 ms: see broadcastTiming). */
  broadcast: BroadcastTiming;
  /** Addresses the stage's WebRTC candidates announce in place of the bound one (1:1 NAT: the public address). Default none (ROSTRUM_RTC_ANNOUNCED_IP, comma-separated). */
  rtcAnnouncedIps: string[];
  /** UDP ports (and ICE-TCP ports) WebRTC sessions bind, one per session. Default: any the system picks (ROSTRUM_RTC_PORT_RANGE, e.g. 50000-50100). */
  rtcPortRange: [number, number] | undefined;
  /** The local IPv4 address WebRTC sessions bind. Default: loopback when host is loopback, else host, else the default route's interface (ROSTRUM_RTC_LISTEN_IP). */
  rtcListenIp: string | undefined;
  /** Offer ICE-TCP candidates too, for speakers whose network blocks UDP. Default true (ROSTRUM_RTC_TCP=0 turns it off). */
  rtcTcp: boolean;
  /** TURN (and STUN) servers handed to stage clients: turn:host:3478?transport=udp, turns:… Default none (ROSTRUM_TURN_URLS, comma-separated). */
  turnUrls: string[];
  /** The secret shared with the TURN server (coturn's static-auth-secret), for credentials minted per stage connection. Default none (ROSTRUM_TURN_SECRET). */
  turnSecret: string | undefined;
  /** How long a minted TURN credential works, seconds. Default 86400 (ROSTRUM_TURN_TTL). */
  turnTtlSeconds: number;
  /** PostgreSQL for the durable record (several nodes share it): postgres://user:pass@host:5432/db. Default none: SQLite in dataDir (ROSTRUM_DATABASE_URL). */
  databaseUrl: string | undefined;
  /** Redis for what nodes share (leases, the change log, counts, limits): redis://host:6379. Default none: in process (ROSTRUM_REDIS_URL). */
  redisUrl: string | undefined;
  /** This node's name among several. Default: generated at start (ROSTRUM_NODE_ID). */
  nodeId: string | undefined;
  /** Where the other nodes (and an edge) reach this node, e.g. http://10.0.0.11:8080. Default: the address it listens on (ROSTRUM_NODE_URL). */
  nodeUrl: string | undefined;
  /** nchan publishers of the nginx edges that fan out /listen/<id>.aac, the space id appended: e.g. http://10.0.0.21:8081/rostrum-stream/ (ROSTRUM_STREAM_EDGES, comma-separated). */
  streamEdges: string[];
  /** The key those publishers ask for, as set in deploy/nginx/stream.conf (ROSTRUM_STREAM_EDGE_KEY; required with ROSTRUM_STREAM_EDGES). */
  streamEdgeKey: string | undefined;
  /** pino level: fatal|error|warn|info|debug|trace|silent. Default info (ROSTRUM_LOG_LEVEL). */
  logLevel: string;
  /** Create and start a demo space on boot (npm start). Default false (--demo). */
  demo: boolean;
  /** Rethrow errors from event handlers out of publish (tests). Default false (ROSTRUM_STRICT_EVENTS=1). */
  strictEvents: boolean;
}

/** AAC-LC at 48 kHz: a frame is 1024 samples. */
const AAC_FRAME_MS = (1024 / 48_000) * 1000;
/** Segments are about this long (Apple: 2 s for LL-HLS; RFC 8216bis wants parts at most a third of a target). */
const SEGMENT_MS = 2000;
/** PART-HOLD-BACK, in parts (RFC 8216bis: at least two, should be three; Apple: three). */
export const HOLD_BACK_PARTS = 3;

/**
 * The broadcast's timing. One setting — how long a part is — and the rest follows: a part is a whole
 * number of AAC frames (12 for 256 ms), a segment is the parts nearest 2 s (8), the playlist's
 * target duration is the segment rounded to whole seconds, the encoder cuts a fragment (a part)
 * once it holds all of a part's frames, and a blocking request waits three target durations.
 */
export interface BroadcastTiming {
  framesPerPart: number;
  /** PART-TARGET, seconds. */
  partSeconds: number;
  partsPerSegment: number;
  /** EXT-X-TARGETDURATION, whole seconds. */
  targetDuration: number;
  /** ffmpeg's -frag_duration, ms: half a frame short of a part, so it cuts right after the part's last frame. */
  fragmentMs: number;
  /** How long a blocking playlist request or a preload-hinted part is held (RFC 8216bis: three target durations), ms. */
  blockMs: number;
  /**
   * Parts in each of a run's first segments, before they are whole: 1, 1, then doubling (1, 1, 2, 4
   * for 256 ms parts), so that two whole segments exist two parts after the start. RFC 8216bis
   * allows segments shorter than the target duration.
   */
  firstSegmentParts: number[];
  /** Whole segments a broadcast has before its first playlist is answered (docs/players.md: two). */
  firstPlaylistSegments: number;
}

export function broadcastTiming(partMs: number): BroadcastTiming {
  const framesPerPart = Math.max(1, Math.round(partMs / AAC_FRAME_MS));
  const partSeconds = (framesPerPart * 1024) / 48_000;
  const partsPerSegment = Math.max(1, Math.round(SEGMENT_MS / 1000 / partSeconds));
  const targetDuration = Math.max(1, Math.round(partSeconds * partsPerSegment));
  const firstSegmentParts: number[] = [];
  if (partsPerSegment > 1) firstSegmentParts.push(1, 1);
  for (let n = 2; n < partsPerSegment; n *= 2) firstSegmentParts.push(n);
  return {
    framesPerPart,
    partSeconds,
    partsPerSegment,
    targetDuration,
    fragmentMs: Math.round((framesPerPart - 0.5) * AAC_FRAME_MS),
    blockMs: 3 * targetDuration * 1000,
    firstSegmentParts,
    firstPlaylistSegments: 2,
  };
}

function intFrom(value: string | undefined, fallback: number, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer of at least ${min}, got "${value}"`);
  if (n > max) throw new Error(`${name} must be at most ${max}, got "${value}"`);
  return n;
}

function powModeFrom(value: string | undefined): Config['powMode'] {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'on' || value === 'off') return value;
  throw new Error(`ROSTRUM_POW must be auto, on or off, got "${value}"`);
}

function urlFrom(value: string | undefined, name: string, protocols: string[]): string | undefined {
  if (value === undefined || value === '') return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be a URL (${protocols[0]}//…), got "${value}"`);
  }
  if (!protocols.includes(url.protocol))
    throw new Error(`${name} must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${value}"`);
  return value;
}

function nodeIdFrom(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) throw new Error(`ROSTRUM_NODE_ID must be 1-64 letters, digits, _ . -, got "${value}"`);
  return value;
}

/** Reads the environment; `overrides` (from CLI flags) win over it. */
export function loadConfig(overrides: Partial<Config> = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const base: Config = {
    host: env.ROSTRUM_HOST || '127.0.0.1',
    port: intFrom(env.ROSTRUM_PORT, 8080, 'ROSTRUM_PORT'),
    dataDir: path.resolve(env.ROSTRUM_DATA || './data'),
    publicUrl: env.ROSTRUM_PUBLIC_URL || undefined,
    apiKey: env.ROSTRUM_API_KEY || undefined,
    apiSecret: env.ROSTRUM_API_SECRET || undefined,
    listenerTokenTtlSeconds: intFrom(env.ROSTRUM_LISTENER_TOKEN_TTL, 6 * 3600, 'ROSTRUM_LISTENER_TOKEN_TTL', 60),
    clockSkewSeconds: intFrom(env.ROSTRUM_CLOCK_SKEW, 30, 'ROSTRUM_CLOCK_SKEW'),
    listenerWindowSeconds: intFrom(env.ROSTRUM_LISTENER_WINDOW, 60, 'ROSTRUM_LISTENER_WINDOW', 2),
    tallyIntervalMs: intFrom(env.ROSTRUM_TALLY_INTERVAL_MS, 30_000, 'ROSTRUM_TALLY_INTERVAL_MS', 1000),
    reactionLimit: intFrom(env.ROSTRUM_REACTION_LIMIT, 20, 'ROSTRUM_REACTION_LIMIT', 1),
    requestLimit: intFrom(env.ROSTRUM_REQUEST_LIMIT, 30, 'ROSTRUM_REQUEST_LIMIT', 1),
    joinLimit: intFrom(env.ROSTRUM_JOIN_LIMIT, 100, 'ROSTRUM_JOIN_LIMIT'),
    heartbeatLimit: intFrom(env.ROSTRUM_HEARTBEAT_LIMIT, 20, 'ROSTRUM_HEARTBEAT_LIMIT'),
    writeLimit: intFrom(env.ROSTRUM_WRITE_LIMIT, 600, 'ROSTRUM_WRITE_LIMIT'),
    addressWriteLimit: intFrom(env.ROSTRUM_ADDRESS_WRITE_LIMIT, 6000, 'ROSTRUM_ADDRESS_WRITE_LIMIT'),
    stageGraceMs: intFrom(env.ROSTRUM_STAGE_GRACE_MS, 60_000, 'ROSTRUM_STAGE_GRACE_MS'),
    spaceCreateLimit: intFrom(env.ROSTRUM_SPACE_CREATE_LIMIT, 600, 'ROSTRUM_SPACE_CREATE_LIMIT'),
    webhooks: {
      timeoutMs: intFrom(env.ROSTRUM_WEBHOOK_TIMEOUT_MS, 10_000, 'ROSTRUM_WEBHOOK_TIMEOUT_MS', 100),
      backoffMs: intFrom(env.ROSTRUM_WEBHOOK_BACKOFF_MS, 5000, 'ROSTRUM_WEBHOOK_BACKOFF_MS', 1),
      backoffCapMs: intFrom(env.ROSTRUM_WEBHOOK_BACKOFF_CAP_MS, 3_600_000, 'ROSTRUM_WEBHOOK_BACKOFF_CAP_MS', 1),
      retryForMs: intFrom(env.ROSTRUM_WEBHOOK_RETRY_FOR_MS, 86_400_000, 'ROSTRUM_WEBHOOK_RETRY_FOR_MS', 0),
      concurrency: intFrom(env.ROSTRUM_WEBHOOK_CONCURRENCY, 16, 'ROSTRUM_WEBHOOK_CONCURRENCY', 1),
      pollMs: 1000,
      keepMs: intFrom(env.ROSTRUM_WEBHOOK_KEEP_DAYS, 30, 'ROSTRUM_WEBHOOK_KEEP_DAYS', 1) * 86_400_000,
    },
    addressConnections: intFrom(env.ROSTRUM_ADDRESS_CONNECTIONS, 256, 'ROSTRUM_ADDRESS_CONNECTIONS'),
    bodyLimit: intFrom(env.ROSTRUM_BODY_LIMIT, 16 * 1024, 'ROSTRUM_BODY_LIMIT', 1024),
    requestTimeoutMs: intFrom(env.ROSTRUM_REQUEST_TIMEOUT_MS, 30_000, 'ROSTRUM_REQUEST_TIMEOUT_MS', 1000),
    drainGraceMs: intFrom(env.ROSTRUM_DRAIN_GRACE_MS, 0, 'ROSTRUM_DRAIN_GRACE_MS'),
    drainTimeoutMs: intFrom(env.ROSTRUM_DRAIN_MS, 10_000, 'ROSTRUM_DRAIN_MS'),
    trustProxy: (env.ROSTRUM_TRUST_PROXY ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
    admissionRate: intFrom(env.ROSTRUM_ADMISSION_RATE, 0, 'ROSTRUM_ADMISSION_RATE'),
    listenerCapacity: intFrom(env.ROSTRUM_LISTENER_CAPACITY, 0, 'ROSTRUM_LISTENER_CAPACITY'),
    powMode: powModeFrom(env.ROSTRUM_POW),
    powDifficulty: intFrom(env.ROSTRUM_POW_DIFFICULTY, 50_000, 'ROSTRUM_POW_DIFFICULTY', 1),
    maxEventLoopDelayMs: intFrom(env.ROSTRUM_MAX_EVENT_LOOP_DELAY_MS, 100, 'ROSTRUM_MAX_EVENT_LOOP_DELAY_MS', 1),
    maxEventLoopUtilizationPercent: intFrom(env.ROSTRUM_MAX_ELU_PERCENT, 0, 'ROSTRUM_MAX_ELU_PERCENT'),
    mediaWorker: env.ROSTRUM_MEDIA_WORKER !== '0',
    mediaCoalesceMs: intFrom(env.ROSTRUM_MEDIA_COALESCE_MS, 10, 'ROSTRUM_MEDIA_COALESCE_MS', 0, 20),
    ffmpegPath: env.ROSTRUM_FFMPEG || undefined,
    aacBitrate: intFrom(env.ROSTRUM_AAC_BITRATE, 64_000, 'ROSTRUM_AAC_BITRATE', 16_000),
    // Three, as Google Meet forwards (see stage/loudest-voices.ts); at most the whole stage.
    voices: intFrom(env.ROSTRUM_VOICES, 3, 'ROSTRUM_VOICES', 1, LIMITS.host + LIMITS.cohost + LIMITS.speaker),
    hlsWindowSegments: intFrom(env.ROSTRUM_HLS_WINDOW, 6, 'ROSTRUM_HLS_WINDOW', 3),
    recordingBacklogSeconds: intFrom(env.ROSTRUM_RECORDING_BACKLOG, 600, 'ROSTRUM_RECORDING_BACKLOG', 1),
    minFreeMb: intFrom(env.ROSTRUM_MIN_FREE_MB, 64, 'ROSTRUM_MIN_FREE_MB'),
    broadcast: broadcastTiming(intFrom(env.ROSTRUM_PART_MS, 256, 'ROSTRUM_PART_MS', 64, 1000)),
    rtcAnnouncedIps: parseAddresses(env.ROSTRUM_RTC_ANNOUNCED_IP, 'ROSTRUM_RTC_ANNOUNCED_IP'),
    rtcPortRange: parsePortRange(env.ROSTRUM_RTC_PORT_RANGE),
    rtcListenIp: env.ROSTRUM_RTC_LISTEN_IP || undefined,
    rtcTcp: env.ROSTRUM_RTC_TCP !== '0',
    turnUrls: parseIceUrls(env.ROSTRUM_TURN_URLS),
    turnSecret: env.ROSTRUM_TURN_SECRET || undefined,
    turnTtlSeconds: intFrom(env.ROSTRUM_TURN_TTL, 86_400, 'ROSTRUM_TURN_TTL', 60),
    databaseUrl: urlFrom(env.ROSTRUM_DATABASE_URL, 'ROSTRUM_DATABASE_URL', ['postgres:', 'postgresql:']),
    redisUrl: urlFrom(env.ROSTRUM_REDIS_URL, 'ROSTRUM_REDIS_URL', ['redis:', 'rediss:']),
    nodeId: nodeIdFrom(env.ROSTRUM_NODE_ID),
    nodeUrl: urlFrom(env.ROSTRUM_NODE_URL, 'ROSTRUM_NODE_URL', ['http:', 'https:']),
    streamEdges: (env.ROSTRUM_STREAM_EDGES ?? '')
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean)
      .map((u) => urlFrom(u, 'ROSTRUM_STREAM_EDGES', ['http:', 'https:'])!),
    streamEdgeKey: env.ROSTRUM_STREAM_EDGE_KEY || undefined,
    logLevel: env.ROSTRUM_LOG_LEVEL || 'info',
    demo: false,
    strictEvents: env.ROSTRUM_STRICT_EVENTS === '1',
  };
  const merged: Config = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (merged as unknown as Record<string, unknown>)[key] = value;
  }
  merged.dataDir = path.resolve(merged.dataDir);
  // Only segments older than the live window may be given up: the window is served from memory.
  const segmentSeconds = merged.broadcast.partSeconds * merged.broadcast.partsPerSegment;
  merged.recordingBacklogSeconds = Math.max(merged.recordingBacklogSeconds, Math.ceil((merged.hlsWindowSegments + 2) * segmentSeconds));
  if (merged.port > 65535) throw new Error(`port must be at most 65535, got ${merged.port}`);
  if (merged.streamEdges.length > 0 && (merged.streamEdgeKey ?? '').length < 16)
    throw new Error('ROSTRUM_STREAM_EDGES lists edges: set ROSTRUM_STREAM_EDGE_KEY (at least 16 characters, as in their stream.conf)');
  const relays = merged.turnUrls.filter((u) => !u.startsWith('stun:'));
  if (relays.length > 0 && !merged.turnSecret)
    throw new Error('ROSTRUM_TURN_URLS lists TURN servers: set ROSTRUM_TURN_SECRET (their static-auth-secret)');
  if (merged.turnSecret !== undefined && merged.turnSecret.length < 16)
    throw new Error('ROSTRUM_TURN_SECRET must be at least 16 characters');
  return merged;
}
