/**
 * The start-on-time benchmark: the headline promise, measured. A Rostrum server in its own process
 * with production defences (admission 100 joins/s per space, the default per-address limits, proof
 * of work on auto) and the real `rostrum loadtest` CLI in another:
 *
 * 1. Calm reference, in this process, before any load: a scheduled space with a talking bot
 *    speaker goes live (go-live → first part at the origin), the bot's signalling socket is pinged
 *    for a while (stage round trip), and joins trickle in at 50/s (their answer time).
 * 2. The run: a flash crowd of listeners arrives on live space A (their wait in line is the
 *    node's measured join capacity) and plays it; then joins to the scheduled spaces are flooded,
 *    open loop, from thousands of addresses, by bots ignoring Retry-After and challenges, for the
 *    flood's length; during it the scheduled spaces go live one after another, each with a bot
 *    speaker talking since before its start.
 *
 * Figures: the flood against the measured capacity (goal ≥ 10×); against the same run without the
 * flood (goal ≤ 3× each): go-live → first part p99 (reference: calm go-lives before the run), the
 * stage's signalling round trip p99 and the flood's answers p99 (reference: the seconds before the
 * flood, the crowd playing, joins at a trickle); stalls among A's listeners (0), no timeouts and no
 * 5xx but 503, the server's memory growth; first audio in the lobby and in ffmpeg ≤ 1.5 s (issue
 * 23's promise to listeners, absolute by nature, with the calm go-lives beside it).
 */
import { floodSources, JoinFlood } from '../src/loadtest/join-flood.js';
import type { LoadReport } from '../src/loadtest/load-test.js';
import { goLive, type OperatorApi, StagePinger, type StartTiming, seatSpeaker } from '../src/loadtest/stage-rehearsal.js';
import { deviceShare } from './device-share.js';
import { type FfmpegHeard, ffmpegFirstAudio, LobbyEars, type PageHeard } from './first-audio.js';
import { type Figure, judge } from './results.js';
import { createLiveSpace, operatorApi, type RostrumChild, runLoadtest, startRostrum } from './rostrum.js';

export interface StartSettings {
  listeners: number;
  /**
   * The flood offered, as a multiple of the join capacity a probe measures first in the same run (a
   * flash crowd on a space of its own): the load follows what this box and this node let in, not a
   * fixed rate that overruns a slower box.
   */
  floodMultiple: number;
  floodAtSeconds: number;
  floodSeconds: number;
  /** Scheduled spaces going live during the flood. */
  starts: number;
  admissionRate: number;
  /** Seconds of calm pings for the stage's reference round trip. */
  calmSeconds: number;
}

/** One go-live as listeners heard it: ms from the go-live request (null: not heard, see `problem`). */
export interface HeardStart {
  space: string;
  /** At the origin: the first part of audio fetched (the load test's figure). */
  firstPartMs: number | null;
  /** A listener waiting in the lobby (Chromium, the share page, one click in the lobby): audio playing. */
  pageMs: number | null;
  /** ffmpeg reading the plain playlist, started when the space was seen live: first decoded audio. */
  ffmpegMs: number | null;
  /** When the space was seen live by the ffmpeg client's poll, ms after the request. */
  liveSeenMs: number | null;
  problems: string[];
}

export interface StartMeasurement {
  settings: StartSettings;
  /** The probe's flash crowd, the join capacity it measured, and the flood rate offered from it. */
  probe: { listeners: number; capacityPerSecond: number; floodPerSecond: number };
  calm: { start: StartTiming; stageRttP99Ms: number | null; joinAnswerP99Ms: number | null; heard: HeardStart[] };
  report: LoadReport;
  /** The run's go-lives as listeners heard them, under the flood. */
  heard: HeardStart[];
  problems: string[];
  /** Why the run says nothing about Rostrum: the load generator could not keep time. */
  voided: string[];
}

/**
 * The load test's own event-loop delay (p99) beyond which its figures are its own: its simulated
 * players fetch a 256 ms part late by that much, and count stalls that are theirs, and its clocks
 * time answers late. Runs here without a stall measured 38–44 ms.
 */
export const GENERATOR_LAG_LIMIT_MS = 100;

/**
 * How much a flood of 10× the capacity or more may slow what it touches — the stage's round trip,
 * the answers to joins, the first part of a go-live — against the same run before it: at most 3×.
 */
const FLOOD_SLOWDOWN = 3;

/** The probe's flash crowd: four seconds of line at the default admission rate. */
const PROBE_LISTENERS = 400;

function heardStart(start: StartTiming, page: PageHeard, ffmpeg: FfmpegHeard): HeardStart {
  const since = (at: number | null) => (at === null ? null : at - start.pressedAt);
  return {
    space: start.space,
    firstPartMs: start.firstPartMs,
    pageMs: since(page.playingAt),
    ffmpegMs: since(ffmpeg.audioAt),
    liveSeenMs: since(ffmpeg.liveSeenAt),
    problems: [page.problem, ffmpeg.problem, start.error].filter((p): p is string => p !== undefined),
  };
}

/** A scheduled space; with a time, its lobby looks often from 10 s before it (web/app/src/state.ts). */
async function scheduledSpace(api: OperatorApi, title: string, at?: number): Promise<string> {
  return (await api<{ id: string }>('POST', '/api/spaces', { title, ...(at ? { scheduledStart: new Date(at).toISOString() } : {}) })).id;
}

/**
 * The reference for the first audio: `n` spaces go live one after another with nothing else going
 * on, each with a bot speaker talking, a listener waiting in its lobby and an ffmpeg client.
 */
async function calmStarts(server: RostrumChild, api: OperatorApi, ears: LobbyEars, n: number): Promise<HeardStart[]> {
  const heard: HeardStart[] = [];
  for (let i = 0; i < n; i++) {
    const space = await scheduledSpace(api, `calm start ${i + 1}`, Date.now() + 5000);
    const bot = await seatSpeaker(api, server.url, space, 1, 440);
    try {
      const page = await ears.enter(space, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the lobby has its token and looks often
      const ffmpeg = ffmpegFirstAudio(server.url, space, 20_000);
      const start = await goLive(api, server.url, space, 0);
      heard.push(heardStart(start, await page.heard, await ffmpeg));
    } finally {
      await bot.close();
      // Ended, so its mix and encoder do not take a share of the box from the run that follows.
      await api('POST', `/api/spaces/${encodeURIComponent(space)}/end`).catch(() => undefined);
    }
  }
  return heard;
}

/** The calm reference: one start, the stage's round trip and join answers, with nothing else going on. */
async function calm(server: RostrumChild, api: OperatorApi, settings: StartSettings): Promise<StartMeasurement['calm']> {
  const space = await scheduledSpace(api, 'calm reference');
  const bot = await seatSpeaker(api, server.url, space, 1, 440);
  const pinger = new StagePinger(() => [bot]);
  try {
    const flood = new JoinFlood({
      origin: server.url,
      joinPaths: [`/api/spaces/${space}/join`],
      ratePerSecond: 50,
      durationSeconds: settings.calmSeconds,
      // From 20 addresses, as a crowd would: from one, the per-address limit would refuse most of
      // them — and switch the proof of work on before the run begins.
      sources: floodSources(server.url, 20),
      timeoutMs: 2000,
    });
    const [start] = await Promise.all([goLive(api, server.url, space, 0), flood.run()]);
    const joins = flood.report();
    await flood.close();
    return { start, stageRttP99Ms: pinger.report().rttMs?.p99 ?? null, joinAnswerP99Ms: joins.answerMs?.p99 ?? null, heard: [] };
  } finally {
    pinger.stop();
    await bot.close();
  }
}

export async function measureStartOnTime(settings: StartSettings, log: (line: string) => void): Promise<StartMeasurement> {
  const server = await startRostrum([], {
    ROSTRUM_ADMISSION_RATE: String(settings.admissionRate),
    // The defaults, not the bench's raised ones: listeners and flooders come from many addresses.
    ROSTRUM_JOIN_LIMIT: '100',
    ROSTRUM_ADDRESS_WRITE_LIMIT: '6000',
    ROSTRUM_REQUEST_LIMIT: '30',
    ROSTRUM_POW: 'auto',
  });
  let ears: LobbyEars | undefined;
  try {
    if (!deviceShare())
      log(
        "start-on-time: this machine lets us make no CPU cgroup: the listeners' clients run unconfined and take the server's share of the box in bursts",
      );
    ears = await LobbyEars.launch(server.url);
    const api = operatorApi(server);
    log(`start-on-time: calm reference (${settings.calmSeconds} s)`);
    const reference = await calm(server, api, settings);
    log(`start-on-time: ${settings.starts} calm go-lives heard by a lobby listener and ffmpeg`);
    reference.heard = await calmStarts(server, api, ears, settings.starts);
    const probeSpace = await createLiveSpace(server, 'capacity probe');
    log(`start-on-time: probing the join capacity with a flash crowd of ${PROBE_LISTENERS}`);
    const probed = await runLoadtest(
      server,
      ['--space', probeSpace, '--listeners', String(PROBE_LISTENERS), '--profile', 'flash', '--duration', '8'],
      log,
    );
    if (!probed.joinCapacityPerSecond) throw new Error('the capacity probe measured no join capacity: its crowd got in at once');
    const probe = {
      listeners: PROBE_LISTENERS,
      capacityPerSecond: probed.joinCapacityPerSecond,
      floodPerSecond: Math.ceil(probed.joinCapacityPerSecond * settings.floodMultiple),
    };
    log(
      `start-on-time: join capacity ${probe.capacityPerSecond}/s; the flood offers ${settings.floodMultiple}× that: ${probe.floodPerSecond}/s`,
    );
    // The run must start calm: a proof of work already on would make the listeners solve it too.
    const pow = await api<{ required: boolean; level: number }>('GET', '/api/admin/pow');
    const a = await createLiveSpace(server, 'already on air');
    const duration = settings.floodAtSeconds + settings.floodSeconds + 5;
    // Scheduled about when the load test takes them live (evenly over the flood, load-test.ts), so
    // their lobbies look as often as they do around a start; a listener waits in each from before the run.
    const soon = Date.now() + 3000;
    const startTimes = Array.from(
      { length: settings.starts },
      (_, i) => soon + (settings.floodAtSeconds + ((i + 1) * settings.floodSeconds) / (settings.starts + 1)) * 1000,
    );
    const starts = await Promise.all(startTimes.map((at, i) => scheduledSpace(api, `start ${i + 1}`, at)));
    const listening = (duration + 30) * 1000;
    // Each listener joined before the run and opens the lobby 5 s before the start (its page looks
    // often from 10 s before): the browser takes a share of this box's two cores from the server
    // (sampled: a fifth of a core during the flood with one lobby page open at a time), which a
    // listener's own device does not; five pages open for the whole run took more.
    const tokens = await Promise.all(starts.map((space) => ears!.join(space)));
    const pages = starts.map(async (space, i): Promise<PageHeard> => {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, startTimes[i]! - 5000 - Date.now())));
      try {
        return await (await ears!.enter(space, listening, tokens[i])).heard;
      } catch (err) {
        return { space, playingAt: null, problem: `the lobby page failed: ${(err as Error).message.split('\n')[0]}` };
      }
    });
    // One ffmpeg client at a time: the spaces go live in order.
    const ffmpegs = (async () => {
      const out: FfmpegHeard[] = [];
      for (const space of starts) out.push(await ffmpegFirstAudio(server.url, space, listening));
      return out;
    })();
    log(
      `start-on-time: ${settings.listeners} listeners, flood ${probe.floodPerSecond}/s for ${settings.floodSeconds} s from second ${settings.floodAtSeconds}, ${settings.starts} starts`,
    );
    const report = await runLoadtest(
      server,
      [
        ...['--space', a, '--listeners', String(settings.listeners), '--profile', 'flash', '--duration', String(duration)],
        ...['--speakers', '1', '--go-live', starts.join(',')],
        ...[
          '--flood',
          String(probe.floodPerSecond),
          '--flood-at',
          String(settings.floodAtSeconds),
          '--flood-seconds',
          String(settings.floodSeconds),
        ],
      ],
      log,
    );
    const heardPages = await Promise.all(pages);
    const heardFfmpeg = await ffmpegs;
    const heard = report.starts.flatMap((start) => {
      const page = heardPages.find((p) => p.space === start.space);
      const ffmpeg = heardFfmpeg.find((f) => f.space === start.space);
      return page && ffmpeg ? [heardStart(start, page, ffmpeg)] : [];
    });
    const problems: string[] = [];
    if (pow.required) problems.push(`the proof of work was on (level ${pow.level}) before the run began`);
    if (report.flood && report.flood.notSent > 0)
      problems.push(`the flood generator could not keep up: ${report.flood.notSent} joins not sent`);
    if (report.joinCapacityPerSecond === null) problems.push('the listeners got in too fast to measure the join capacity');
    if (report.starts.length !== settings.starts) problems.push(`${report.starts.length} of ${settings.starts} spaces went live`);
    const voided: string[] = [];
    if (report.generatorLagP99Ms > GENERATOR_LAG_LIMIT_MS)
      voided.push(
        `the load generator was saturated: its event-loop delay p99 was ${report.generatorLagP99Ms} ms (limit ${GENERATOR_LAG_LIMIT_MS} ms), so the stalls, the stage's round trips and the first parts it timed are partly its own`,
      );
    const floodLag = report.flood?.generatorLagP99Ms;
    if (floodLag != null && floodLag > GENERATOR_LAG_LIMIT_MS)
      voided.push(
        `the flood's own thread was saturated: its event-loop delay p99 was ${floodLag} ms (limit ${GENERATOR_LAG_LIMIT_MS} ms), so the answer times it timed are partly its own`,
      );
    return { settings, probe, calm: reference, report, heard, problems, voided };
  } finally {
    await ears?.close();
    await server.stop();
  }
}

/** The figures of a run; `joinCeiling` is the join suite's raw throughput from the same run, when it ran. */
export function startFigures(m: StartMeasurement, joinCeiling: number | undefined): Figure[] {
  const r = m.report;
  const flood = r.flood!;
  const capacity = r.joinCapacityPerSecond ?? Number.NaN;
  const firstParts = r.starts.map((s) => s.firstPartMs ?? Number.POSITIVE_INFINITY);
  const worstStart = firstParts.length > 0 ? Math.max(...firstParts) : Number.NaN;
  const failures = flood.timeouts + flood.networkErrors + flood.serverErrors;
  const codes = Object.entries(flood.byCode)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const worst = (heard: HeardStart[], key: 'pageMs' | 'ffmpegMs') =>
    heard.length === 0 ? Number.NaN : Math.max(...heard.map((h) => h[key] ?? Number.POSITIVE_INFINITY));
  const list = (heard: HeardStart[], key: 'pageMs' | 'ffmpegMs') =>
    heard.map((h) => (h[key] === null ? 'never' : `${Math.round(h[key])} ms`)).join(', ');
  const beforeRtt = r.stage?.phases?.before ?? null;
  const duringRtt = r.stage?.phases?.flood ?? null;
  const trickle = r.joinsBeforeFlood?.answerMs ?? null;
  const heardProblems = [...m.calm.heard, ...m.heard].flatMap((h) => h.problems.map((p) => `${h.space}: ${p}`));
  const firstAudio = (key: 'pageMs' | 'ffmpegMs', id: string, name: string, how: string) => {
    const value = worst(m.heard, key);
    const reference = worst(m.calm.heard, key);
    return judge({
      id,
      name,
      value,
      unit: 'ms',
      reference: Number.isFinite(reference) ? reference : null,
      ratio: Number.isFinite(reference) && reference > 0 ? value / reference : null,
      goal: { on: 'value', op: '<=', target: 1500 },
      note: `${how} ${deviceShare() ? "The listeners' clients run in a CPU cgroup with a quarter of a process's weight (bench/device-share.ts)" : "The listeners' clients ran unconfined (no CPU cgroup could be made)"}. Under the flood: ${list(m.heard, key)}; reference, ${m.calm.heard.length} go-lives with no load: ${list(m.calm.heard, key)}. With ${m.heard.length} go-lives the p99 is the worst.${heardProblems.length > 0 ? ` Problems: ${heardProblems.join('; ')}.` : ''}`,
    });
  };
  return [
    firstAudio(
      'pageMs',
      'start.first_audio.lobby.p99',
      'go-live request → first audio played by a listener waiting in the lobby (Chromium, hls.js), p99',
      'The share page in Chromium with sound allowed only after a gesture, clicked once in the lobby before the start and not after; its audio element playing the broadcast (confirmed by its clock going on).',
    ),
    firstAudio(
      'ffmpegMs',
      'start.first_audio.ffmpeg.p99',
      'go-live request → first audio decoded by ffmpeg from the plain playlist, p99',
      `ffmpeg (no low-latency query) started when the state document said live (polled every 50 ms; seen ${m.heard.map((h) => (h.liveSeenMs === null ? '—' : `${Math.round(h.liveSeenMs)}`)).join(', ')} ms after the request under the flood).`,
    ),
    judge({
      id: 'start.flood.vs_capacity',
      name: 'join flood against the measured join capacity',
      value: flood.offeredPerSecond,
      unit: 'joins/s',
      reference: capacity,
      ratio: flood.offeredPerSecond / capacity,
      goal: { on: 'ratio', op: '>=', target: 10 },
      note: `reference: listeners let in per second while a flash crowd of ${r.listeners} waited in line (admission rate configured at ${m.settings.admissionRate}/s per space). The flood's rate was set before the run at ${m.settings.floodMultiple}× the capacity a probe measured first (a flash crowd of ${m.probe.listeners} on a space of its own: ${m.probe.capacityPerSecond}/s). ${flood.sent} joins from ${flood.sourceAddresses} addresses over ${flood.durationSeconds} s, open loop.${joinCeiling ? ` The raw join endpoint (join suite, same run) did ${Math.round(joinCeiling)}/s: the flood was ${(flood.offeredPerSecond / joinCeiling).toFixed(2)}× that.` : ''}`,
    }),
    judge({
      id: 'start.go_live.first_part.p99',
      name: 'go-live request → first part of audio at the origin, p99 (worst of the starts), against the same with no load',
      value: worstStart,
      unit: 'ms',
      reference: m.calm.start.firstPartMs,
      ratio: m.calm.start.firstPartMs ? worstStart / m.calm.start.firstPartMs : null,
      goal: { on: 'ratio', op: '<=', target: FLOOD_SLOWDOWN },
      note: `${r.starts.length} spaces went live during the flood: ${r.starts.map((s) => `${Math.round(s.firstPartMs ?? Number.NaN)} ms`).join(', ')}; reference: the same with no load.`,
    }),
    judge({
      id: 'start.stage.rtt.p99',
      name: 'stage signalling round trip p99 during the flood, against the same before it',
      value: duringRtt?.p99 ?? Number.NaN,
      unit: 'ms',
      reference: beforeRtt?.p99 ?? null,
      ratio: duringRtt && beforeRtt ? duringRtt.p99 / Math.max(1, beforeRtt.p99) : null,
      goal: { on: 'ratio', op: '<=', target: FLOOD_SLOWDOWN },
      note: `pings every 250 ms on every bot speaker's /rtc socket (${r.stage?.pings ?? 0} pings, ${r.stage?.lost ?? 0} lost; during the flood p50 ${duringRtt?.p50 ?? '—'} ms, max ${duringRtt?.max ?? '—'} ms). Reference: the same pings in the same run before the flood, the crowd in and playing (p50 ${beforeRtt?.p50 ?? '—'} ms; a p99 under 1 ms counts as 1 ms); after the flood p99 ${r.stage?.phases?.after?.p99 ?? '—'} ms; with no load at all, before the run: ${m.calm.stageRttP99Ms ?? '—'} ms.`,
    }),
    judge({
      id: 'start.listeners.stalls',
      name: 'stalls among the listeners already playing',
      value: r.stalls,
      unit: 'stalls',
      reference: null,
      ratio: null,
      goal: { on: 'value', op: '==', target: 0 },
      note: `${r.joined}/${r.listeners} joined, ${r.heardAudio} heard audio, errors ${JSON.stringify(r.errors)}.`,
    }),
    judge({
      id: 'start.flood.answer.p99',
      name: 'answers to the flooders p99, against joins answered before the flood',
      value: flood.answerMs?.p99 ?? Number.NaN,
      unit: 'ms',
      reference: trickle?.p99 ?? null,
      ratio: flood.answerMs && trickle ? flood.answerMs.p99 / Math.max(1, trickle.p99) : null,
      goal: { on: 'ratio', op: '<=', target: FLOOD_SLOWDOWN },
      note: `answers: ${codes}. p50 ${flood.answerMs?.p50} ms, max ${flood.answerMs?.max} ms; the flood's thread's own event-loop delay p99 was ${flood.generatorLagP99Ms ?? '—'} ms (the load test's main thread: ${r.generatorLagP99Ms} ms). Reference: the same joins (same spaces, same generator) at 10 a second in the seconds before the flood, the crowd in and playing: ${r.joinsBeforeFlood?.answered ?? 0} answered, p50 ${trickle?.p50 ?? '—'} ms (a p99 under 1 ms counts as 1 ms); with no load at all, before the run: ${m.calm.joinAnswerP99Ms ?? '—'} ms.`,
    }),
    judge({
      id: 'start.flood.failures',
      name: 'flooders without an answer, or with a 5xx other than 503',
      value: failures,
      unit: '',
      reference: null,
      ratio: null,
      goal: { on: 'value', op: '==', target: 0 },
      note: `${flood.timeouts} timeouts (> 2 s), ${flood.networkErrors} network errors, ${flood.serverErrors} 5xx other than 503.`,
    }),
    judge({
      id: 'start.server.memory_growth',
      name: 'server memory growth over the run (resident, peak − start)',
      value: (r.serverMemoryMb?.peak ?? Number.NaN) - (r.serverMemoryMb?.start ?? Number.NaN),
      unit: 'MB',
      reference: r.serverMemoryMb?.start ?? null,
      ratio: null,
      goal: { on: 'value', op: '<=', target: 256 },
      note: `reference: the resident memory at the start; ${r.serverMemoryMb?.end} MB at the end.`,
    }),
  ];
}
