/**
 * `rostrum loadtest`'s engine: ramps up simulated listeners (linearly, or all in the first second
 * for a flash crowd) against one space over pooled keep-alive HTTP (undici), runs them for the
 * duration, and stops by itself. Loopback targets only unless allowed otherwise. Optionally it
 * rehearses the start of a show under attack: bot speakers on stage, a join flood (join-flood.ts),
 * and scheduled spaces taken live during it (stage-rehearsal.ts). Returns the report: join
 * latency, time to first audio, stalls, errors by status, request rates, how the listener count
 * the server reports compares with the number simulated — and, when rehearsing, how the flood was
 * answered, go-live to first audio, the stage's signalling round trip and the server's memory.
 */
import dns from 'node:dns/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Pool } from 'undici';
import { type Percentiles, percentiles } from '../bots/listener-bot.js';
import type { SpeakerBot } from '../bots/speaker-bot.js';
import { HOLD_BACK_PARTS } from '../config.js';
import { FloodWorker } from './flood-worker.js';
import { type FloodReport, floodSources } from './join-flood.js';
import { SimulatedListener } from './simulated-listener.js';
import { goLive, type OperatorApi, StagePinger, type StartTiming, seatSpeaker } from './stage-rehearsal.js';
import { LoadStats, lagP99Ms, type Second } from './stats.js';

export interface LoadTestOptions {
  server: string;
  space: string;
  listeners: number;
  rampSeconds: number;
  durationSeconds: number;
  profile: 'linear' | 'flash';
  reactionsPerMinute: number;
  allowRemote: boolean;
  /** What each listener fetches of the broadcast (simulated-listener.ts); default `parts`. */
  media?: 'parts' | 'none';
  /** Bot speakers seated on the space before the listeners arrive (needs `api`). */
  speakers?: number;
  /** The operator's API: seats bot speakers and takes spaces live. */
  api?: OperatorApi;
  /**
   * Scheduled spaces to take live during the run (needs `api`): each gets a talking bot speaker
   * before, and they go live one after another, spread over the flood (or the run).
   */
  goLive?: string[];
  /** A join flood (join-flood.ts) on the spaces going live, or else on the space. */
  flood?: FloodPlan;
  /** Called once a second with the second just closed. */
  onSecond?: (second: Second, stats: LoadStats) => void;
}

export interface FloodPlan {
  ratePerSecond: number;
  /** Second of the run it starts, and how long it lasts. */
  atSeconds: number;
  seconds: number;
  /** Source addresses it comes from (default: one per 5 joins a second, up to 4,000). */
  addresses?: number;
  /** An answer later than this is a timeout, ms (default 2,000). */
  timeoutMs?: number;
}

export interface LoadReport {
  server: string;
  space: string;
  profile: 'linear' | 'flash';
  listeners: number;
  rampSeconds: number;
  durationSeconds: number;
  speakers: number;
  joined: number;
  /** Listeners that received at least one part of audio. */
  heardAudio: number;
  joinMs: Percentiles | null;
  timeToFirstAudioMs: Percentiles | null;
  stalls: number;
  stallsPerListenerMinute: number;
  errors: Record<string, number>;
  requests: number;
  requestsPerSecond: number;
  /** Requests the origin served per second over the run (its /metrics), whatever stood in front. */
  originRequestsPerSecond: number | null;
  listenerCount: { simulated: number; reported: number | null; accuracy: number | null };
  /**
   * The node's measured join capacity: listeners let in per second while others were still
   * waiting to get in (whole seconds after the first, whose burst is not a rate). Null when the
   * crowd got in too fast to show one (it did not exceed the capacity), and for a linear ramp,
   * whose pace is the ramp's.
   */
  joinCapacityPerSecond: number | null;
  /** How the server answered the flood, when there was one. */
  flood: FloodReport | null;
  /** Each space taken live, and go-live → first part of audio over them all. */
  starts: StartTiming[];
  goLiveToFirstPartMs: Percentiles | null;
  /** Pings on every bot speaker's signalling socket, every 250 ms (null without speakers). */
  /**
   * The stage's signalling round trip over the run, and by phase when there is a flood: 'before'
   * (the crowd in, no flood), 'flood', 'after'.
   */
  stage: { pings: number; lost: number; rttMs: Percentiles | null; phases: Record<string, Percentiles | null> } | null;
  /**
   * With a flood: joins at a trickle (10 a second, the same spaces and paths, from 10 addresses) in
   * the seconds before it, answered by the same server under the same crowd — the flood's answers'
   * reference.
   */
  joinsBeforeFlood: { answerMs: Percentiles | null; answered: number; sent: number } | null;
  /** The server's resident memory (its /metrics), MB: before, highest, and at the end. */
  serverMemoryMb: { start: number; peak: number; end: number } | null;
  /** This process's own event-loop delay p99, ms: high means the generator, not the server, was late. */
  generatorLagP99Ms: number;
  series: Second[];
}

export class LoadTestError extends Error {}

/** Sockets the pool may open (each is a file descriptor; the server needs as many). */
const MAX_CONNECTIONS = 12_000;

/** Refuses anything but loopback unless `allowRemote`: a load test must never hit a stranger by accident. */
export async function checkTarget(server: string, allowRemote: boolean): Promise<void> {
  const host = new URL(server).hostname.replace(/^\[|\]$/g, '');
  if (allowRemote) return;
  const addresses = await dns.lookup(host, { all: true }).catch(() => []);
  const loopback = (a: string) => a === '::1' || a.startsWith('127.') || a === '::ffff:127.0.0.1';
  if (addresses.length === 0 || !addresses.every((a) => loopback(a.address))) {
    throw new LoadTestError(`${host} is not a loopback address; pass --allow-remote to load-test another machine`);
  }
}

/** Simulated listeners per source address on loopback. */
const LISTENERS_PER_ADDRESS = 20;

/**
 * Where the listeners' connections come from. Against an IPv4 loopback target they are spread over
 * many addresses of 127.0.0.0/8 (all of it is this machine), about 20 listeners each, so the
 * server's per-address limits see a crowd of listeners, as they would in the field, not one
 * address making every join. Elsewhere: the system's choice (undefined).
 */
export function sourceAddresses(server: string, listeners: number): Array<string | undefined> {
  if (!/^127\.\d+\.\d+\.\d+$/.test(new URL(server).hostname)) return [undefined];
  const count = Math.min(4_000, Math.max(1, Math.ceil(listeners / LISTENERS_PER_ADDRESS)));
  return Array.from({ length: count }, (_, i) => `127.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`);
}

async function serverMetrics(server: string): Promise<{ requests: number; rssMb: number | null; lagP99Ms: number | null } | null> {
  try {
    const text = await (await fetch(`${server}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    let requests = 0;
    for (const m of text.matchAll(/^rostrum_http_request_duration_seconds_count\{[^}]*\} (\d+)/gm)) requests += Number(m[1]);
    const rss = /^rostrum_process_resident_memory_bytes (\d+)/m.exec(text)?.[1];
    // prom-client's event-loop delay histogram starts afresh at each scrape: this one's p99 is the
    // delay since the last (a second ago, while a load test runs).
    const lag = /^rostrum_nodejs_eventloop_lag_p99_seconds ([\d.e+-]+)/m.exec(text)?.[1];
    return {
      requests,
      rssMb: rss === undefined ? null : Math.round(Number(rss) / 2 ** 20),
      lagP99Ms: lag === undefined ? null : Math.round(Number(lag) * 10_000) / 10,
    };
  } catch {
    return null;
  }
}

function joinCapacity(series: Second[], listeners: number): number | null {
  let joined = 0;
  const full: number[] = [];
  for (const second of series) {
    joined += second.joins;
    // A second counts when some were still waiting at its end: the node, not the crowd, set its pace.
    if (joined >= listeners) break;
    if (second.t >= 2) full.push(second.joins);
  }
  return full.length >= 2 ? Math.round(full.reduce((a, b) => a + b, 0) / full.length) : null;
}

export async function runLoadTest(options: LoadTestOptions): Promise<LoadReport> {
  await checkTarget(options.server, options.allowRemote);
  const origin = new URL(options.server).origin;
  const goLiveSpaces = options.goLive ?? [];
  const speakers = options.speakers ?? 0;
  const api = options.api;
  if ((speakers > 0 || goLiveSpaces.length > 0) && !api)
    throw new LoadTestError("bot speakers and going live need the operator's credentials");
  // Each listener has about one request in flight most of the time (a held blocking reload), as a
  // player with its own connection would; polls and heartbeats share the pool. Capped below the
  // process's file limit (20,000 here).
  const sources = sourceAddresses(options.server, options.listeners);
  const connections = Math.min(MAX_CONNECTIONS, Math.max(16, Math.ceil(options.listeners * 1.2)));
  const pools = sources.map(
    (localAddress) =>
      new Pool(origin, {
        connections: Math.max(2, Math.ceil(connections / sources.length)),
        pipelining: 1,
        ...(localAddress ? { localAddress } : {}),
      }),
  );
  const stats = new LoadStats();
  const apiPath = `/api/spaces/${encodeURIComponent(options.space)}`;
  const hlsPath = `/hls/${encodeURIComponent(options.space)}`;
  const listeners: SimulatedListener[] = [];
  const timers: NodeJS.Timeout[] = [];
  const bots: SpeakerBot[] = [];
  const lag = monitorEventLoopDelay({ resolution: 10 });
  const secondLag = monitorEventLoopDelay({ resolution: 10 });
  let pinger: StagePinger | undefined;
  // Each flood in a thread of its own (flood-worker.ts): not in the players' and the pings' loop.
  let flood: FloodWorker | undefined;
  let trickle: FloodWorker | undefined;
  const flooding: Array<Promise<void>> = [];
  const starting: Array<Promise<StartTiming>> = [];
  try {
    // The stage first: speakers on the space, and one on each space about to go live (its green room).
    for (let i = 0; i < speakers; i++) bots.push(await seatSpeaker(api!, options.server, options.space, i + 1, 330 + 110 * i));
    for (const [k, space] of goLiveSpaces.entries()) bots.push(await seatSpeaker(api!, options.server, space, 1, 440 + 110 * k));
    if (bots.length > 0) pinger = new StagePinger(() => bots);
    if (options.flood) pinger?.phase('before');
    const before = await serverMetrics(options.server);
    const memory = before?.rssMb != null ? { start: before.rssMb, peak: before.rssMb, end: before.rssMb } : null;
    lag.enable();
    secondLag.enable();
    const started = performance.now();
    const ticker = setInterval(() => {
      const second = stats.tick();
      void flood?.tick().then((f) => {
        second.flood = f;
      });
      second.generatorLagP99Ms = lagP99Ms(secondLag);
      secondLag.reset();
      const rtt = pinger?.tick();
      if (rtt != null) second.stageRttMaxMs = Math.round(rtt);
      options.onSecond?.(second, stats);
      void serverMetrics(options.server).then((m) => {
        if (m?.lagP99Ms != null) second.serverLagP99Ms = m.lagP99Ms;
        if (!memory || m?.rssMb == null) return;
        second.serverRssMb = m.rssMb;
        memory.peak = Math.max(memory.peak, m.rssMb);
        memory.end = m.rssMb;
      });
    }, 1000);
    timers.push(ticker);
    const rampMs = options.profile === 'flash' ? 1000 : options.rampSeconds * 1000;
    for (let i = 0; i < options.listeners; i++) {
      const at = options.profile === 'flash' ? Math.random() * rampMs : (i / options.listeners) * rampMs;
      timers.push(
        setTimeout(() => {
          const listener = new SimulatedListener({
            http: pools[i % pools.length]!,
            apiPath,
            hlsPath,
            stats,
            reactionsPerMinute: options.reactionsPerMinute,
            holdBackParts: HOLD_BACK_PARTS, // as the playlist's PART-HOLD-BACK
            media: options.media ?? 'parts',
          });
          listeners.push(listener);
          void listener.run();
        }, at),
      );
    }
    const plan = options.flood;
    if (plan) {
      const targets = goLiveSpaces.length > 0 ? goLiveSpaces : [options.space];
      const joiners = new FloodWorker({
        origin,
        joinPaths: targets.map((space) => `/api/spaces/${encodeURIComponent(space)}/join`),
        ratePerSecond: plan.ratePerSecond,
        durationSeconds: plan.seconds,
        sources: floodSources(options.server, plan.addresses ?? Math.ceil(plan.ratePerSecond / 5)),
        timeoutMs: plan.timeoutMs ?? 2000,
      });
      flood = joiners;
      timers.push(
        setTimeout(() => {
          pinger?.phase('flood');
          flooding.push(joiners.run());
        }, plan.atSeconds * 1000),
      );
      timers.push(setTimeout(() => pinger?.phase('after'), (plan.atSeconds + plan.seconds) * 1000));
      // The reference: a trickle of the same joins from second 3 (the flash crowd in) to the flood.
      const trickleSeconds = plan.atSeconds - 4;
      if (trickleSeconds >= 2) {
        trickle = new FloodWorker({
          origin,
          joinPaths: targets.map((space) => `/api/spaces/${encodeURIComponent(space)}/join`),
          ratePerSecond: 10,
          durationSeconds: trickleSeconds,
          sources: floodSources(options.server, 10),
          timeoutMs: plan.timeoutMs ?? 2000,
        });
        const reference = trickle;
        timers.push(setTimeout(() => flooding.push(reference.run()), 3000));
      }
    }
    // The starts, spread evenly over the flood (or the run): none at its very edges.
    const [from, length] = plan ? [plan.atSeconds, plan.seconds] : [0, options.durationSeconds];
    for (const [k, space] of goLiveSpaces.entries()) {
      const at = from + ((k + 1) * length) / (goLiveSpaces.length + 1);
      timers.push(setTimeout(() => starting.push(goLive(api!, origin, space, Math.round(at))), at * 1000));
    }
    await new Promise((resolve) => setTimeout(resolve, options.durationSeconds * 1000));
    flood?.stop();
    // The count the server reports now, against the listeners still here.
    const simulated = listeners.filter((l) => l.active).length;
    const state = (await fetch(`${options.server}${apiPath}/state`, { signal: AbortSignal.timeout(10_000) })
      .then((r) => r.json())
      .catch(() => null)) as { listeners?: number } | null;
    const reported = state?.listeners ?? stats.reportedListeners;
    const seconds = (performance.now() - started) / 1000;
    const after = await serverMetrics(options.server);
    if (memory && after?.rssMb != null) {
      memory.end = after.rssMb;
      memory.peak = Math.max(memory.peak, after.rssMb);
    }
    const minutes = listeners.reduce((sum, l) => sum + l.listenedMinutes, 0);
    await Promise.all(flooding);
    const starts = await Promise.all(starting);
    return {
      server: options.server,
      space: options.space,
      profile: options.profile,
      listeners: options.listeners,
      rampSeconds: options.profile === 'flash' ? 1 : options.rampSeconds,
      durationSeconds: options.durationSeconds,
      speakers: bots.length,
      joined: stats.joins,
      heardAudio: listeners.filter((l) => l.heardAudio).length,
      joinMs: percentiles(stats.joinMs),
      timeToFirstAudioMs: percentiles(stats.firstAudioMs),
      stalls: stats.stalls,
      stallsPerListenerMinute: minutes > 0 ? stats.stalls / minutes : 0,
      errors: { ...stats.errorsByStatus },
      requests: stats.requests,
      requestsPerSecond: stats.requests / seconds,
      originRequestsPerSecond: before && after ? (after.requests - before.requests) / seconds : null,
      listenerCount: {
        simulated,
        reported: reported ?? null,
        accuracy: reported !== undefined && reported !== null && simulated > 0 ? reported / simulated : null,
      },
      joinCapacityPerSecond: options.profile === 'flash' ? joinCapacity(stats.series, options.listeners) : null,
      flood: flood ? flood.report() : null,
      starts,
      goLiveToFirstPartMs: percentiles(starts.flatMap((s) => (s.firstPartMs === null ? [] : [s.firstPartMs]))),
      stage: pinger ? pinger.report() : null,
      joinsBeforeFlood: trickle
        ? (() => {
            const r = trickle.report();
            return { answerMs: r.answerMs, answered: r.answered, sent: r.sent };
          })()
        : null,
      serverMemoryMb: memory,
      generatorLagP99Ms: lagP99Ms(lag),
      series: stats.series,
    };
  } finally {
    lag.disable();
    secondLag.disable();
    pinger?.stop();
    for (const timer of timers) clearTimeout(timer);
    for (const listener of listeners) listener.stop();
    await flood?.close();
    await trickle?.close();
    await Promise.all(bots.map((bot) => bot.close()));
    await Promise.all(pools.map((pool) => pool.destroy()));
  }
}
