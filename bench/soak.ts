/**
 * The soak: one Rostrum server in its own process, run for a long time (30 minutes; 4 with --quick)
 * under three kinds of churn at once, each the way a real space sees it:
 *
 * - listeners: `rostrum loadtest` runs back to back on a live space (60 listeners arriving over
 *   10 s, playing LL-HLS parts, reading the state document, then leaving when the run ends);
 * - the stage: two lanes of bot speakers, each seated, talking for a while, then gone — every other
 *   one leaves the stage politely (DELETE /stage), the others just drop their connection, so the
 *   seat keeper must free the seat after its grace;
 * - spaces: one created live every 45 s, a speaker seated and a few listeners on it, then ended.
 *
 * Every 10 s the server process is sampled: resident memory, open file descriptors and sockets
 * (/proc/<pid>), child processes (ffmpeg), and from its /metrics the V8 heap in use and the event
 * loop's p99 delay. Figures: each level's least-squares slope after a warm-up, as a share of its
 * mean per hour (flat: ≤ 10 %); the event loop's p99 late in the run against early in it; errors;
 * and after the churn stops and the grace has passed, descriptors, sockets and children back to
 * their level before the churn and no departed speaker left on the stage.
 */
import fs from 'node:fs';
import type { LoadReport } from '../src/loadtest/load-test.js';
import { type OperatorApi, seatBot } from '../src/loadtest/stage-rehearsal.js';
import { type Figure, judge } from './results.js';
import { createLiveSpace, operatorApi, type RostrumChild, runLoadtest, startRostrum } from './rostrum.js';

export interface SoakSettings {
  /** How long the churn runs. */
  seconds: number;
  /** The first part of the run, left out of the slopes: caches fill, V8 sizes its heap. */
  warmupSeconds: number;
  sampleEverySeconds: number;
  /** The stage's grace for a speaker whose connection died (ROSTRUM_STAGE_GRACE_MS), s. */
  graceSeconds: number;
}

/** One look at the server process. `at` is seconds since the churn began (negative: before it). */
export interface SoakSample {
  at: number;
  rssBytes: number;
  heapUsedBytes: number | null;
  /** V8's heap as reserved (used or not), and memory outside it that JS objects hold (Buffers, ArrayBuffers). */
  heapTotalBytes: number | null;
  externalBytes: number | null;
  fds: number;
  sockets: number;
  children: number;
  eventLoopP99Ms: number | null;
}

export interface Slope {
  /** Units per hour, least squares over the samples after the warm-up. */
  perHour: number;
  /** Its standard error, units per hour. */
  standardError: number;
  mean: number;
  samples: number;
}

export interface SoakMeasurement {
  settings: SoakSettings;
  samples: SoakSample[];
  /** Before the churn: the server up, its live space on air, nobody on it. */
  before: SoakSample;
  /** After the churn stopped and the grace (and a margin) passed. */
  after: SoakSample;
  churn: {
    loadtests: number;
    listenersJoined: number;
    listenerErrors: Record<string, number>;
    stalls: number;
    speakersSeated: number;
    speakersLeftPolitely: number;
    speakersDropped: number;
    spacesCreated: number;
    spacesEnded: number;
  };
  /** Departed speakers the state document still lists on the stage after the grace. */
  stranded: string[];
  problems: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sleeps `ms`, or less if the deadline comes first; false when the deadline has passed. */
async function until(deadline: number, ms: number): Promise<boolean> {
  const left = deadline - Date.now();
  if (left <= 0) return false;
  await sleep(Math.min(ms, left));
  return Date.now() < deadline;
}

/** The least-squares slope of `y` over `x` (seconds), per hour, with its standard error. */
export function slope(points: Array<{ x: number; y: number }>): Slope {
  const n = points.length;
  const mean = points.reduce((s, p) => s + p.y, 0) / n;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const p of points) {
    sxx += (p.x - mx) ** 2;
    sxy += (p.x - mx) * (p.y - mean);
  }
  const b = sxx > 0 ? sxy / sxx : 0;
  const residuals = points.reduce((s, p) => s + (p.y - (mean + b * (p.x - mx))) ** 2, 0);
  const se = n > 2 && sxx > 0 ? Math.sqrt(residuals / (n - 2) / sxx) : 0;
  return { perHour: b * 3600, standardError: se * 3600, mean, samples: n };
}

function countSockets(pid: number): { fds: number; sockets: number } {
  const dir = `/proc/${pid}/fd`;
  let fds = 0;
  let sockets = 0;
  for (const fd of fs.readdirSync(dir)) {
    fds++;
    try {
      if (fs.readlinkSync(`${dir}/${fd}`).startsWith('socket:')) sockets++;
    } catch {
      // closed between the listing and the look
    }
  }
  return { fds, sockets };
}

/** Processes whose parent is `pid` (the encoders' ffmpeg). */
function countChildren(pid: number): number {
  let n = 0;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) n++;
    } catch {
      // gone
    }
  }
  return n;
}

function metric(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : null;
}

async function sample(server: RostrumChild, at: number): Promise<SoakSample> {
  const pid = server.child.pid;
  if (pid === undefined) throw new Error('the server has no pid');
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  const metrics = await fetch(`${server.url}/metrics`).then((r) => r.text());
  const lag = metric(metrics, 'rostrum_nodejs_eventloop_lag_p99_seconds');
  return {
    at,
    rssBytes: rssKiB * 1024,
    heapUsedBytes: metric(metrics, 'rostrum_nodejs_heap_size_used_bytes'),
    heapTotalBytes: metric(metrics, 'rostrum_nodejs_heap_size_total_bytes'),
    externalBytes: metric(metrics, 'rostrum_nodejs_external_memory_bytes'),
    ...countSockets(pid),
    children: countChildren(pid),
    eventLoopP99Ms: lag === null ? null : lag * 1000,
  };
}

const sum = (record: Record<string, number>) => Object.values(record).reduce((s, v) => s + v, 0);

export async function measureSoak(settings: SoakSettings, log: (line: string) => void): Promise<SoakMeasurement> {
  const server = await startRostrum([], { ROSTRUM_STAGE_GRACE_MS: String(settings.graceSeconds * 1000) });
  const problems: string[] = [];
  const churn: SoakMeasurement['churn'] = {
    loadtests: 0,
    listenersJoined: 0,
    listenerErrors: {},
    stalls: 0,
    speakersSeated: 0,
    speakersLeftPolitely: 0,
    speakersDropped: 0,
    spacesCreated: 0,
    spacesEnded: 0,
  };
  const departed = new Set<string>();
  try {
    const api = operatorApi(server);
    const main = await createLiveSpace(server, 'soak');
    await sleep(5000); // its encoder up and its first segments out
    const before = await sample(server, -1);
    const started = Date.now();
    const deadline = started + settings.seconds * 1000;
    const fail = (what: string) => (err: unknown) => {
      problems.push(`${what} at ${Math.round((Date.now() - started) / 1000)} s: ${(err as Error).message}`);
    };
    const quiet = () => undefined;
    const tally = (report: LoadReport) => {
      churn.loadtests++;
      churn.listenersJoined += report.joined;
      churn.stalls += report.stalls;
      for (const [code, n] of Object.entries(report.errors)) churn.listenerErrors[code] = (churn.listenerErrors[code] ?? 0) + n;
    };

    const listeners = async () => {
      for (let run = 1; Date.now() < deadline - 20_000; run++) {
        const seconds = Math.max(15, Math.min(60, Math.floor((deadline - Date.now()) / 1000)));
        const args = ['--space', main, '--listeners', '60', '--ramp', '10', '--duration', String(seconds)];
        await runLoadtest(server, args, quiet, `listeners-${run}`).then(tally, fail(`listener run ${run}`));
      }
    };

    const stage = async (lane: number) => {
      for (let k = 1; Date.now() < deadline - 30_000; k++) {
        const identity = `soak-${lane}-${k}`;
        try {
          const { bot, token } = await seatBot(api, server.url, main, identity, `Soak ${lane}.${k}`, 300 + 100 * lane);
          churn.speakersSeated++;
          departed.add(identity);
          await until(deadline, 25_000);
          if (k % 2 === 0) {
            await api('DELETE', `/api/spaces/${main}/stage`, undefined, token);
            churn.speakersLeftPolitely++;
          } else churn.speakersDropped++;
          await bot.close();
        } catch (err) {
          fail(`speaker ${identity}`)(err);
        }
        await until(deadline, 2000);
      }
    };

    const spaces = async () => {
      for (let n = 1; Date.now() < deadline - 45_000; n++) {
        const next = Date.now() + 45_000;
        try {
          const id = (await api<{ id: string }>('POST', '/api/spaces', { title: `soak space ${n}`, startNow: true })).id;
          churn.spacesCreated++;
          const { bot } = await seatBot(api, server.url, id, `soak-guest-${n}`, `Guest ${n}`, 550);
          departed.add(`soak-guest-${n}`);
          await runLoadtest(server, ['--space', id, '--listeners', '10', '--ramp', '2', '--duration', '20'], quiet, `space-${n}`).then(
            tally,
            fail(`listeners of space ${n}`),
          );
          await bot.close();
          await api('POST', `/api/spaces/${id}/end`);
          churn.spacesEnded++;
        } catch (err) {
          fail(`space ${n}`)(err);
        }
        await until(deadline, next - Date.now());
      }
    };

    const samples: SoakSample[] = [];
    const sampler = async () => {
      while (await until(deadline, settings.sampleEverySeconds * 1000)) {
        const s = await sample(server, (Date.now() - started) / 1000).catch((err: unknown) => {
          fail('a sample')(err);
          return undefined;
        });
        if (!s) continue;
        samples.push(s);
        if (samples.length % 6 === 0)
          log(
            `soak: ${Math.round(s.at)} s: rss ${(s.rssBytes / 2 ** 20).toFixed(0)} MiB, heap ${((s.heapUsedBytes ?? 0) / 2 ** 20).toFixed(0)} MiB, ${s.fds} fds (${s.sockets} sockets), ${s.children} children, loop p99 ${s.eventLoopP99Ms?.toFixed(1)} ms, ${problems.length} problems`,
          );
      }
    };

    log(
      `soak: ${settings.seconds} s of listener, stage and space churn (warm-up ${settings.warmupSeconds} s, a sample every ${settings.sampleEverySeconds} s)`,
    );
    await Promise.all([listeners(), stage(1), stage(2), spaces(), sampler()]);
    // Every departed speaker's seat is freed by now, politely or by the seat keeper; idle keep-alive
    // connections have timed out.
    await sleep((settings.graceSeconds + 15) * 1000);
    const after = await sample(server, (Date.now() - started) / 1000);
    const state = await fetch(`${server.url}/api/spaces/${main}/state`).then(
      (r) => r.json() as Promise<{ stage: Array<{ identity: string }> }>,
    );
    const stranded = state.stage.map((m) => m.identity).filter((id) => departed.has(id));
    const open = await stillLive(api, main);
    if (open.length > 0) problems.push(`spaces the soak ended are still live: ${open.join(', ')}`);
    return { settings, samples, before, after, churn, stranded, problems };
  } finally {
    await server.stop();
  }
}

/** Live spaces other than the main one, after every one the soak created was ended. */
async function stillLive(api: OperatorApi, main: string): Promise<string[]> {
  const { spaces } = await api<{ spaces: Array<{ id: string; state: string }> }>('GET', '/api/spaces?state=live');
  return spaces.filter((s) => s.state === 'live' && s.id !== main).map((s) => s.id);
}

/** Flat: a level's drift over an hour, at the slope measured, within this share of its mean. */
const FLAT_PER_HOUR = 0.1;
/** Slopes and the event loop's drift are judged over at least this long a window; shorter (a quick run), they are information. */
const MIN_JUDGED_MINUTES = 15;
/** Back to where it was: descriptors and sockets after the churn within this multiple of before it. */
const BACK_TO_BEFORE = 1.25;
/** The event loop's p99 in the last third of the run against the first third (after the warm-up). */
const LAG_GROWTH = 1.5;

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function soakFigures(m: SoakMeasurement): Figure[] {
  const steady = m.samples.filter((s) => s.at >= m.settings.warmupSeconds);
  const minutes = (m.settings.seconds - m.settings.warmupSeconds) / 60;
  const judged = minutes >= MIN_JUDGED_MINUTES;
  const flat = (id: string, name: string, unit: string, scale: number, of: (s: SoakSample) => number | null, goal = true): Figure => {
    const points = steady.flatMap((s) => {
      const y = of(s);
      return y === null ? [] : [{ x: s.at, y: y / scale }];
    });
    const fit = points.length >= 3 ? slope(points) : null;
    return judge({
      id: `soak.${id}.slope`,
      name: `${name}: drift in an hour at the slope measured`,
      value: fit?.perHour ?? Number.NaN,
      unit,
      reference: fit?.mean ?? null,
      ratio: fit && fit.mean > 0 ? fit.perHour / fit.mean : null,
      goal: judged && goal ? { on: 'ratio', op: '<=', target: FLAT_PER_HOUR } : null,
      note: fit
        ? `least-squares slope over ${fit.samples} samples in the last ${minutes.toFixed(0)} min (after a ${Math.round(m.settings.warmupSeconds / 60)} min warm-up): ${fit.perHour.toFixed(1)} ± ${fit.standardError.toFixed(1)} ${unit}/h (standard error); reference: the mean level over them.${judged ? '' : ` Information only: ${minutes.toFixed(0)} minutes are too short to tell a slope from the garbage collector's swings (a quick run); the goal is judged on the full run.`}`
        : 'too few samples after the warm-up',
    });
  };
  const mib = 2 ** 20;
  const third = Math.max(1, Math.floor(steady.length / 3));
  // A p99 of 0 is a window with no measurement (prom-client's monitor was just reset by another scrape).
  const lags = (part: SoakSample[]) => median(part.flatMap((s) => (s.eventLoopP99Ms ? [s.eventLoopP99Ms] : [])));
  const early = lags(steady.slice(0, third));
  const late = lags(steady.slice(-third));
  const backTo = (id: string, name: string, of: (s: SoakSample) => number): Figure =>
    judge({
      id: `soak.after.${id}`,
      name: `${name} after the churn, against before it`,
      value: of(m.after),
      unit: '',
      reference: of(m.before),
      ratio: of(m.before) > 0 ? of(m.after) / of(m.before) : null,
      goal: { on: 'ratio', op: '<=', target: BACK_TO_BEFORE },
      note: `${m.settings.graceSeconds + 15} s after the churn stopped (the stage's grace and 15 s); before: the server up with its live space on air, nobody on it.`,
    });
  const errors = sum(m.churn.listenerErrors) + m.problems.length;
  return [
    flat('rss', 'resident memory', 'MiB', mib, (s) => s.rssBytes),
    flat('heap', 'V8 heap in use', 'MiB', mib, (s) => s.heapUsedBytes),
    // Where resident memory goes, for a slope to be explained (information).
    flat('heap_total', 'V8 heap reserved', 'MiB', mib, (s) => s.heapTotalBytes, false),
    flat('external', 'memory held outside the V8 heap (Buffers, ArrayBuffers)', 'MiB', mib, (s) => s.externalBytes, false),
    flat('fds', 'open file descriptors', 'fds', 1, (s) => s.fds),
    flat('sockets', 'open sockets', 'sockets', 1, (s) => s.sockets),
    judge({
      id: 'soak.eventloop.p99',
      name: 'event-loop delay p99, late in the run against early in it',
      value: late ?? Number.NaN,
      unit: 'ms',
      reference: early,
      ratio: late !== null && early ? late / early : null,
      goal: judged ? { on: 'ratio', op: '<=', target: LAG_GROWTH } : null,
      note: `the median of the samples' p99 (prom-client's event-loop monitor, from /metrics) in the last third of the steady part, against the first third.${judged ? '' : ' Information only on a quick run: a few samples a third.'}`,
    }),
    backTo('fds', 'open file descriptors', (s) => s.fds),
    backTo('sockets', 'open sockets', (s) => s.sockets),
    judge({
      id: 'soak.after.children',
      name: 'child processes (encoders) after the churn',
      value: m.after.children,
      unit: '',
      reference: m.before.children,
      ratio: null,
      goal: { on: 'value', op: '<=', target: m.before.children },
      note: 'every space the soak created was ended: its ffmpeg must be gone.',
    }),
    judge({
      id: 'soak.after.stranded',
      name: 'departed speakers still on the stage after the grace',
      value: m.stranded.length,
      unit: '',
      reference: m.churn.speakersSeated,
      ratio: null,
      goal: { on: 'value', op: '==', target: 0 },
      note: `${m.churn.speakersSeated} speakers seated: ${m.churn.speakersLeftPolitely} left the stage (DELETE /stage), ${m.churn.speakersDropped} dropped their connection (freed by the seat keeper), the rest ended with their space.${m.stranded.length ? ` Still there: ${m.stranded.join(', ')}.` : ''}`,
    }),
    judge({
      id: 'soak.errors',
      name: 'errors (listeners’ and the churn’s)',
      value: errors,
      unit: '',
      reference: null,
      ratio: null,
      goal: { on: 'value', op: '==', target: 0 },
      note: `${m.churn.loadtests} load-test runs, ${m.churn.listenersJoined} listeners joined (errors by code: ${JSON.stringify(m.churn.listenerErrors)}; stalls ${m.churn.stalls}, information); ${m.churn.spacesCreated} spaces created, ${m.churn.spacesEnded} ended; the churn's own failures are listed as problems.`,
    }),
  ];
}
