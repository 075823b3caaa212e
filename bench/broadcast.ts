/**
 * The broadcast benchmark.
 * - Mixer + encoder CPU per live space: a space's real pipeline (jitter buffers, libopus decode,
 *   mix, limiter, ffmpeg AAC, LL-HLS packaging, recording to disk) in a process of its own, fed 13
 *   speakers' Opus packets every 20 ms; that process's CPU plus the ffmpeg child's, over wall time
 *   (bench/mix-cpu.ts). Reference: the same pipeline with nobody talking (silence is still mixed
 *   and encoded).
 * - Live spaces per core: several such spaces at once, each with two voices (a conversation).
 * - Glass-to-ear at the origin: a bot speaker's timing clicks (on whole wall-clock seconds) heard by
 *   the listener bot pulling LL-HLS from a Rostrum server in its own process; reference: the same
 *   clicks heard over the stage (WebRTC) by another speaker at the same time.
 * - Glass-to-ear in a player: hls.js on the share page in headless Chromium (bench/player.ts).
 * - Part serving: wrk fetching one LL-HLS part from Rostrum, against nginx serving the same bytes
 *   from a file, in the same run.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ListenerBot, type Percentiles, percentiles } from '../src/bots/listener-bot.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { findClicks } from '../src/bots/tone.js';
// The shipped edge config, started as the edge test starts it.
import { freePort } from '../src/cluster/local/util.js';
import { loadConfig } from '../src/config.js';
import { type LoadReport, runLoadTest } from '../src/loadtest/load-test.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import { startEdge } from '../test/helpers/nginx.js';
import { cpuSeconds, treeCpuSeconds, treeRunSeconds } from './cpu.js';
import { type MixCpu, measureMixCpu } from './mix-cpu.js';
import { startStaticNginx } from './nginx-static.js';
import { type IcecastMeasurement, measureIcecast } from './peers/icecast.js';
import { playerLatency } from './player.js';
import { removeTempDir, tempDir } from './processes.js';
import { measureProgressive, type ProgressiveMeasurement, processPercent } from './progressive.js';
import { createLiveSpace, seat, startRostrum } from './rostrum.js';
import { runWrk, type WrkResult } from './wrk.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface BroadcastSettings {
  /** Seconds of each of the three CPU windows a CPU figure is the median of (after a warm-up of 2 s). */
  cpuSeconds: number;
  /** Spaces run at once for the spaces-per-core figure. */
  spaces: number;
  /** Seconds the listener bot listens for the glass-to-ear figure. */
  latencySeconds: number;
  /** Simulated listeners behind the nginx edge, and for how long. */
  edgeListeners: number;
  edgeSeconds: number;
  /** Listeners of the progressive stream (/listen/<id>.aac) and of Icecast: one held connection each, so more of them. */
  streamListeners: number;
  /** Other part lengths (ms) to measure the latency / listeners-per-core trade-off at, besides the default. */
  tradeOffPartMs: number[];
  /** wrk seconds per server for the part-serving figure, and its connections. */
  wrkSeconds: number;
  connections: number;
}

export interface BroadcastMeasurement {
  full: MixCpu;
  silent: MixCpu;
  conversation: MixCpu;
  latency: { hls: Percentiles | null; played: Percentiles | null; webrtc: Percentiles | null; stalls: number };
  /** hls.js on the share page in Chromium: wall clock less the playing audio's program date time. */
  player: { lagMs: Percentiles | null; stalls: number };
  serving: { rostrum: WrkResult; nginx: WrkResult; partBytes: number };
  /** The edge (deploy/nginx/edge.conf) in front of the origin: media objects, and who fetched them how often. */
  edge: {
    listeners: number;
    objects: number;
    clientRequests: number;
    originFetches: number;
    maxOriginFetchesPerObject: number;
    stalls: number;
    /** The edge's nginx (master and worker) and the origin behind it, over the steady middle of the run. */
    cpu: ServingCpu;
  };
  /** The same number of listeners straight on the origin, no edge. */
  origin: { cpu: ServingCpu; stalls: number };
  /** The part-length trade-off: played latency and listeners per edge core at other part lengths (ROSTRUM_PART_MS). */
  partLengths: PartLengthTradeOff[];
  /** The peer: Icecast serving the same number of listeners the same stream (null if it could not run; see problems). */
  icecast: IcecastMeasurement | null;
  /**
   * Rostrum's own Icecast-shaped path, the same number of listeners: the progressive stream fanned out
   * by an nginx edge with nchan (deploy/nginx/stream.conf), and served by the origin itself (null if it could not run).
   */
  stream: { edge: ProgressiveMeasurement | null; origin: ProgressiveMeasurement | null };
  problems: string[];
}

/** One part length's side of the trade-off: a shorter part is heard sooner and costs more requests. */
export interface PartLengthTradeOff {
  partMs: number;
  /** The listener bot's real-time playback, three parts behind the live edge. */
  played: Percentiles | null;
  /** The same crowd through the edge as the main figure. */
  edge: ServingCpu;
  stalls: number;
}

/** What serving a crowd of listeners cost: the server's CPU over the steady middle of a load test. */
export interface ServingCpu {
  listeners: number;
  seconds: number;
  /** The process serving them (the edge's nginx, or the origin when they came straight to it), % of a core. */
  percent: number;
  /** The same process with the space live and nobody listening, over the same length of time. */
  idlePercent: number;
  /** Listeners one core would serve at what they added: listeners ÷ (percent − idle). */
  listenersPerCore: number;
  /** The origin's CPU meanwhile (when the edge served them), % of a core. */
  originPercent: number | null;
  /** HTTP requests each listener made per second. */
  requestsPerListenerPerSecond: number;
}

/** Clicks heard over WebRTC by a stage member: arrival time less the whole second they were said on. */
function webrtcClickLatencies(bot: SpeakerBot): number[] {
  const out: number[] = [];
  for (const receiver of bot.receivers) {
    const frames = receiver.frames;
    const pcm = Buffer.concat(frames.map((f) => f.pcm));
    for (const sample of findClicks(pcm)) {
      const frame = frames[Math.floor(sample / 960)];
      // Over WebRTC a click arrives well within the second it was said on.
      if (frame && !frame.concealed) out.push(frame.at - Math.floor(frame.at / 1000) * 1000);
    }
  }
  return out;
}

export async function measureBroadcast(settings: BroadcastSettings, log: (line: string) => void): Promise<BroadcastMeasurement> {
  const problems: string[] = [];
  const full = await measureMixCpu(1, 13, settings.cpuSeconds);
  log(
    `broadcast: 13 speakers: ${full.totalPercent.toFixed(2)} % of a core (node ${full.nodePercent.toFixed(2)}, ffmpeg ${full.ffmpegPercent.toFixed(2)})`,
  );
  const silent = await measureMixCpu(1, 0, settings.cpuSeconds);
  log(`broadcast: nobody talking: ${silent.totalPercent.toFixed(2)} % of a core`);
  const conversation = await measureMixCpu(settings.spaces, 2, settings.cpuSeconds);
  log(`broadcast: ${settings.spaces} spaces × 2 voices: ${conversation.totalPercent.toFixed(2)} % of a core per space`);
  for (const [what, m] of [
    ['13 speakers', full],
    ['nobody talking', silent],
    ['2 voices', conversation],
  ] as const) {
    if (m.disturbed) problems.push(`mix CPU (${what}): the feeder alone measured more than the mix with it — the run was disturbed`);
  }

  // Hold the whole broadcast in the live window, so one part stays servable for the wrk runs. The
  // stream edge measured below is started later on a port picked now: the server publishes to it.
  const streamPort = await freePort();
  const streamKey = randomBytes(18).toString('base64url');
  const server = await startRostrum([], {
    ROSTRUM_HLS_WINDOW: '120',
    ROSTRUM_STREAM_EDGES: `http://127.0.0.1:${streamPort}/rostrum-stream/`,
    ROSTRUM_STREAM_EDGE_KEY: streamKey,
  });
  let speakerLeft = async () => {};
  try {
    const spaceId = await createLiveSpace(server, 'broadcast bench');
    const speaker = await SpeakerBot.join({
      server: server.url,
      token: await seat(server, spaceId, 'a', 'speaker'),
      toneHz: 440,
      clicks: true,
    });
    const ear = await SpeakerBot.join({ server: server.url, token: await seat(server, spaceId, 'b', 'speaker') });
    // The speaker talks on through the serving runs below, so listeners everywhere get a stream of
    // the same weight (a tone and clicks), as Icecast's feed is.
    speakerLeft = () => speaker.close();
    let heard: Awaited<ReturnType<typeof ListenerBot.listen>>['report'];
    let player: BroadcastMeasurement['player'];
    try {
      await sleep(1000);
      heard = (await ListenerBot.listen({ server: server.url, space: spaceId, seconds: settings.latencySeconds, ffmpeg: findFfmpeg() }))
        .report;
      player = await playerLatency(`${server.url}/s/${spaceId}`, settings.latencySeconds / 2);
      log(`broadcast: hls.js plays ${player.lagMs?.p50} ms behind the wall clock (p50; ${player.stalls} samples without progress)`);
    } finally {
      await ear.close();
    }
    const webrtc = percentiles(webrtcClickLatencies(ear));
    log(
      `broadcast: glass-to-ear p50 ${heard.latency.availableMs?.p50} ms at the origin (${heard.latency.clicks} clicks), over WebRTC p50 ${webrtc?.p50} ms`,
    );
    if (heard.stalls > 0) problems.push(`the listener bot stalled ${heard.stalls} times`);

    const playlist = await (await fetch(`${server.url}/hls/${spaceId}/index.m3u8`)).text();
    const partUri = [...playlist.matchAll(/URI="(\d+\.\d+\.m4s)"/g)].at(-2)?.[1];
    if (!partUri) throw new Error(`no part listed:\n${playlist}`);
    const partUrl = `${server.url}/hls/${spaceId}/${partUri}`;
    const bytes = Buffer.from(await (await fetch(partUrl)).arrayBuffer());
    const root = tempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-bench-parts-')));
    fs.writeFileSync(path.join(root, partUri), bytes);
    fs.chmodSync(root, 0o755); // nginx's workers run as nobody
    const nginx = await startStaticNginx(root);
    const originPid = server.child.pid!;
    const edge = await edgeCollapsing(server.url, spaceId, settings, originPid);
    log(
      `broadcast: edge: ${edge.clientRequests} media requests from ${edge.listeners} listeners, ${edge.originFetches} reached the origin (${edge.objects} objects, at most ${edge.maxOriginFetchesPerObject} each)`,
    );
    log(
      `broadcast: edge: nginx ${edge.cpu.percent.toFixed(2)} % of a core for ${edge.listeners} listeners (${Math.round(edge.cpu.listenersPerCore)} per core; ${edge.cpu.requestsPerListenerPerSecond.toFixed(1)} requests per listener a second), origin ${edge.cpu.originPercent?.toFixed(2)} %`,
    );
    const straight = await servedListeners(server.url, spaceId, settings, () => cpuSeconds(originPid), null);
    const origin = { cpu: straight.cpu, stalls: straight.report.stalls };
    log(
      `broadcast: origin alone: ${straight.cpu.percent.toFixed(2)} % of a core for ${settings.edgeListeners} listeners (idle ${straight.cpu.idlePercent.toFixed(2)} %: ${Math.round(straight.cpu.listenersPerCore)} per core)`,
    );
    // Part serving now, while the part is still in the live window (the runs below take minutes).
    const wrk = (url: string) =>
      runWrk({ url, method: 'GET', threads: 1, connections: settings.connections, durationSeconds: settings.wrkSeconds });
    await wrk(partUrl); // warm-up
    const rostrum = await wrk(partUrl);
    const reference = await wrk(`${nginx.url}/${partUri}`);
    log(`broadcast: part serving ${Math.round(rostrum.requestsPerSecond)} req/s vs nginx ${Math.round(reference.requestsPerSecond)} req/s`);
    if (rostrum.failures + reference.failures > 0)
      problems.push(`part serving had errors: rostrum ${rostrum.failures}, nginx ${reference.failures}`);
    let icecast: IcecastMeasurement | null = null;
    try {
      icecast = await measureIcecast(
        {
          listeners: settings.streamListeners,
          seconds: settings.edgeSeconds,
          ffmpeg: findFfmpeg(),
          bitrate: loadConfig({}, {}).aacBitrate,
        },
        log,
      );
      problems.push(...icecast.problems);
    } catch (err) {
      problems.push(`icecast could not run: ${(err as Error).message}`);
    }
    const stream = await progressiveStream(server.url, spaceId, originPid, settings, { port: streamPort, key: streamKey }, log, problems);
    problems.push(...[stream.edge, stream.origin].flatMap((m) => m?.problems ?? []));
    await speakerLeft();
    speakerLeft = async () => {};
    const partLengths: PartLengthTradeOff[] = [];
    for (const partMs of settings.tradeOffPartMs) {
      const at = await atPartLength(partMs, settings);
      partLengths.push(at);
      log(
        `broadcast: parts of ${partMs} ms: played p50 ${at.played?.p50} ms; nginx ${at.edge.percent.toFixed(2)} % of a core for ${at.edge.listeners} listeners (${Math.round(at.edge.listenersPerCore)} per core, ${at.edge.requestsPerListenerPerSecond.toFixed(1)} requests per listener a second)`,
      );
    }
    try {
      return {
        full,
        silent,
        conversation,
        latency: { hls: heard.latency.availableMs, played: heard.latency.playedMs, webrtc, stalls: heard.stalls },
        player,
        serving: { rostrum, nginx: reference, partBytes: bytes.length },
        edge,
        origin,
        icecast,
        stream,
        partLengths,
        problems,
      };
    } finally {
      await nginx.stop();
      removeTempDir(root);
    }
  } finally {
    await speakerLeft();
    await server.stop();
  }
}

/** The progressive stream's listeners at an nginx edge with nchan, then at the origin itself: what they cost, and their glass-to-ear. */
async function progressiveStream(
  origin: string,
  spaceId: string,
  originPid: number,
  settings: BroadcastSettings,
  edgeAt: { port: number; key: string },
  log: (line: string) => void,
  problems: string[],
): Promise<BroadcastMeasurement['stream']> {
  const common = {
    listeners: settings.streamListeners,
    seconds: settings.edgeSeconds,
    ffmpeg: findFfmpeg(),
    bitrate: loadConfig({}, {}).aacBitrate,
  };
  const say = (what: string, m: ProgressiveMeasurement) =>
    log(
      `broadcast: ${what}: ${m.listeners} listeners at ${m.cpuPercent.toFixed(2)} % of a core (idle ${m.idlePercent.toFixed(2)} %: ${Math.round(m.listenersPerCore)} per core); glass-to-ear p50 ${m.arrivalMs?.p50} ms on arrival, ${m.playedMs?.p50} ms played`,
    );
  let edge: ProgressiveMeasurement | null = null;
  let straight: ProgressiveMeasurement | null = null;
  try {
    const nginx = await startEdge(new URL(origin).host, { port: edgeAt.port, streamKey: edgeAt.key });
    try {
      if (!nginx.stream) throw new Error('the edge has no nchan module (libnginx-mod-nchan)');
      await sleep(1000); // the node's next part reaches the new edge
      edge = await measureProgressive({
        ...common,
        name: 'rostrum stream edge',
        url: `${nginx.url}/listen/${spaceId}.aac`,
        percentOver: async (seconds) => {
          const [busy, started] = [treeRunSeconds(nginx.pid), performance.now()];
          await sleep(seconds * 1000);
          return ((treeRunSeconds(nginx.pid) - busy) / ((performance.now() - started) / 1000)) * 100;
        },
      });
      say('stream edge (nginx + nchan)', edge);
    } finally {
      await nginx.stop();
    }
  } catch (err) {
    problems.push(`the stream edge could not be measured: ${(err as Error).message}`);
  }
  try {
    straight = await measureProgressive({
      ...common,
      name: 'rostrum origin stream',
      url: `${origin}/listen/${spaceId}.aac`,
      percentOver: (seconds) => processPercent(originPid, seconds),
    });
    say('stream from the origin', straight);
  } catch (err) {
    problems.push(`the origin's stream could not be measured: ${(err as Error).message}`);
  }
  return { edge, origin: straight };
}

/** A server whose parts are `partMs` long: its played glass-to-ear, and what its listeners cost the edge. */
async function atPartLength(partMs: number, settings: BroadcastSettings): Promise<PartLengthTradeOff> {
  const server = await startRostrum([], { ROSTRUM_PART_MS: String(partMs) });
  try {
    const spaceId = await createLiveSpace(server, `parts of ${partMs} ms`);
    const speaker = await SpeakerBot.join({
      server: server.url,
      token: await seat(server, spaceId, 'a', 'speaker'),
      toneHz: 440,
      clicks: true,
    });
    try {
      await sleep(1000);
      const heard = (
        await ListenerBot.listen({ server: server.url, space: spaceId, seconds: settings.latencySeconds / 2, ffmpeg: findFfmpeg() })
      ).report;
      const edge = await startEdge(new URL(server.url).host);
      try {
        const served = await servedListeners(edge.url, spaceId, settings, () => treeCpuSeconds(edge.pid), server.child.pid!);
        return { partMs, played: heard.latency.playedMs, edge: served.cpu, stalls: heard.stalls + served.report.stalls };
      } finally {
        await edge.stop();
      }
    } finally {
      await speaker.close();
    }
  } finally {
    await server.stop();
  }
}

/**
 * A load test's simulated LL-HLS listeners on `target` (the edge, or the origin itself), with the CPU
 * of the process serving them (`serving`, CPU seconds so far) measured over the run's steady middle
 * — after the ramp and a settling second, before the last second — against the same process with
 * nobody listening just before, over the same length of time.
 */
async function servedListeners(
  target: string,
  spaceId: string,
  settings: BroadcastSettings,
  serving: () => number,
  originPid: number | null,
): Promise<{ report: LoadReport; cpu: ServingCpu }> {
  const ramp = 2;
  const window = Math.max(2, settings.edgeSeconds - ramp - 3);
  const percentOver = async (seconds: number) => {
    const [busy, origin, started] = [serving(), originPid ? cpuSeconds(originPid) : 0, performance.now()];
    await sleep(seconds * 1000);
    const wall = (performance.now() - started) / 1000;
    return { percent: ((serving() - busy) / wall) * 100, origin: originPid ? ((cpuSeconds(originPid) - origin) / wall) * 100 : null };
  };
  const idle = await percentOver(window);
  const load = runLoadTest({
    server: target,
    space: spaceId,
    listeners: settings.edgeListeners,
    rampSeconds: ramp,
    durationSeconds: settings.edgeSeconds,
    profile: 'linear',
    reactionsPerMinute: 0,
    allowRemote: false,
  });
  await sleep((ramp + 2) * 1000);
  const busy = await percentOver(window);
  const report = await load;
  return {
    report,
    cpu: {
      listeners: settings.edgeListeners,
      seconds: window,
      percent: busy.percent,
      idlePercent: idle.percent,
      listenersPerCore: settings.edgeListeners / (Math.max(0.01, busy.percent - idle.percent) / 100),
      originPercent: busy.origin,
      requestsPerListenerPerSecond: report.requestsPerSecond / settings.edgeListeners,
    },
  };
}

/** Simulated players behind a real nginx edge with the shipped config: how often each media object reached the origin, and what the edge spent. */
async function edgeCollapsing(
  origin: string,
  spaceId: string,
  settings: BroadcastSettings,
  originPid: number,
): Promise<BroadcastMeasurement['edge']> {
  const edge = await startEdge(new URL(origin).host);
  try {
    const { report, cpu } = await servedListeners(edge.url, spaceId, settings, () => treeCpuSeconds(edge.pid), originPid);
    const media = edge.log().filter((line) => /\.(m4s|mp4)$/.test(line.uri));
    const fetches = new Map<string, number>();
    for (const line of media) {
      if (!fetches.has(line.uri)) fetches.set(line.uri, 0);
      if (line.upstreamAddr !== '-') fetches.set(line.uri, fetches.get(line.uri)! + 1);
    }
    return {
      listeners: settings.edgeListeners,
      objects: fetches.size,
      clientRequests: media.length,
      originFetches: [...fetches.values()].reduce((a, b) => a + b, 0),
      maxOriginFetchesPerObject: Math.max(0, ...fetches.values()),
      stalls: report.stalls,
      cpu,
    };
  } finally {
    await edge.stop();
  }
}
