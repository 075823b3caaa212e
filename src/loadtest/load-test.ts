/**
 * `rostrum loadtest`'s engine: ramps up simulated listeners (linearly, or all in the first second
 * for a flash crowd) against one space over pooled keep-alive HTTP (undici), runs them for the
 * duration, and stops by itself. Loopback targets only unless allowed otherwise. Returns the report:
 * join latency, time to first audio, stalls, errors by status, request rates, and how the listener
 * count the server reports compares with the number simulated.
 */
import dns from 'node:dns/promises';
import { Pool } from 'undici';
import { type Percentiles, percentiles } from '../bots/listener-bot.js';
import { SimulatedListener } from './simulated-listener.js';
import { LoadStats, type Second } from './stats.js';

export interface LoadTestOptions {
  server: string;
  space: string;
  listeners: number;
  rampSeconds: number;
  durationSeconds: number;
  profile: 'linear' | 'flash';
  reactionsPerMinute: number;
  allowRemote: boolean;
  /** Starts the bot speakers (before the listeners arrive); returns their stoppers. */
  startSpeakers?: () => Promise<Array<() => Promise<void>>>;
  /** Called once a second with the second just closed. */
  onSecond?: (second: Second, stats: LoadStats) => void;
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

async function originRequests(server: string): Promise<number | null> {
  try {
    const text = await (await fetch(`${server}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    let total = 0;
    for (const m of text.matchAll(/^rostrum_http_request_duration_seconds_count\{[^}]*\} (\d+)/gm)) total += Number(m[1]);
    return total;
  } catch {
    return null;
  }
}

export async function runLoadTest(options: LoadTestOptions): Promise<LoadReport> {
  await checkTarget(options.server, options.allowRemote);
  const origin = new URL(options.server).origin;
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
  const stopSpeakers = (await options.startSpeakers?.()) ?? [];
  const originBefore = await originRequests(options.server);
  const started = performance.now();
  const ticker = setInterval(() => {
    const second = stats.tick();
    options.onSecond?.(second, stats);
  }, 1000);
  try {
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
            holdBackParts: 3,
          });
          listeners.push(listener);
          void listener.run();
        }, at),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.durationSeconds * 1000));
    // The count the server reports now, against the listeners still here.
    const simulated = listeners.filter((l) => l.active).length;
    const state = (await fetch(`${options.server}${apiPath}/state`, { signal: AbortSignal.timeout(10_000) })
      .then((r) => r.json())
      .catch(() => null)) as { listeners?: number } | null;
    const reported = state?.listeners ?? stats.reportedListeners;
    const seconds = (performance.now() - started) / 1000;
    const originAfter = await originRequests(options.server);
    const minutes = listeners.reduce((sum, l) => sum + l.listenedMinutes, 0);
    return {
      server: options.server,
      space: options.space,
      profile: options.profile,
      listeners: options.listeners,
      rampSeconds: options.profile === 'flash' ? 1 : options.rampSeconds,
      durationSeconds: options.durationSeconds,
      speakers: stopSpeakers.length,
      joined: stats.joins,
      heardAudio: listeners.filter((l) => l.heardAudio).length,
      joinMs: percentiles(stats.joinMs),
      timeToFirstAudioMs: percentiles(stats.firstAudioMs),
      stalls: stats.stalls,
      stallsPerListenerMinute: minutes > 0 ? stats.stalls / minutes : 0,
      errors: { ...stats.errorsByStatus },
      requests: stats.requests,
      requestsPerSecond: stats.requests / seconds,
      originRequestsPerSecond: originBefore !== null && originAfter !== null ? (originAfter - originBefore) / seconds : null,
      listenerCount: {
        simulated,
        reported: reported ?? null,
        accuracy: reported !== undefined && reported !== null && simulated > 0 ? reported / simulated : null,
      },
      series: stats.series,
    };
  } finally {
    clearInterval(ticker);
    for (const timer of timers) clearTimeout(timer);
    for (const listener of listeners) listener.stop();
    for (const stop of stopSpeakers) await stop();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }
}
