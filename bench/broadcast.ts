/**
 * The broadcast benchmark.
 * - Mixer + encoder CPU per live space: a space's real pipeline (jitter buffers, libopus decode,
 *   mix, limiter, ffmpeg AAC, LL-HLS packaging, recording to disk) in this process, fed 13 speakers'
 *   Opus packets every 20 ms; this process's CPU plus the ffmpeg child's, over wall time. Reference:
 *   the same pipeline with nobody talking (silence is still mixed and encoded).
 * - Live spaces per core: several such spaces at once, each with two voices (a conversation).
 * - Glass-to-ear at the origin: a bot speaker's timing clicks (on whole wall-clock seconds) heard by
 *   the listener bot pulling LL-HLS from a Rostrum server in its own process; reference: the same
 *   clicks heard over the stage (WebRTC) by another speaker at the same time.
 * - Glass-to-ear in a player: hls.js on the share page in headless Chromium (bench/player.ts).
 * - Part serving: wrk fetching one LL-HLS part from Rostrum, against nginx serving the same bytes
 *   from a file, in the same run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import opus from '@discordjs/opus';
import { dBov } from '../src/audio/levels.js';
import { ListenerBot, type Percentiles, percentiles } from '../src/bots/listener-bot.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { findClicks, toneFrame } from '../src/bots/tone.js';
import { Packager } from '../src/broadcast/packager.js';
import { RecordingDir } from '../src/broadcast/recording-dir.js';
import { loadConfig } from '../src/config.js';
import type { Identity } from '../src/ids.js';
import { runLoadTest } from '../src/loadtest/load-test.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import type { MixerCounts } from '../src/media/mixer.js';
import { SpaceMix } from '../src/media/space-mix.js';
// The shipped edge config, started as the edge test starts it.
import { startEdge } from '../test/helpers/nginx.js';
import { cpuSeconds } from './cpu.js';
import { median } from './join.js';
import { startStaticNginx } from './nginx-static.js';
import { playerLatency } from './player.js';
import { removeTempDir, tempDir } from './processes.js';
import { createLiveSpace, seat, startRostrum } from './rostrum.js';
import { runWrk, type WrkResult } from './wrk.js';

const { OpusEncoder } = opus;
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
  /** wrk seconds per server for the part-serving figure, and its connections. */
  wrkSeconds: number;
  connections: number;
}

export interface MixCpu {
  speakers: number;
  spaces: number;
  /** Voices each mix mixes at once (the product's default). */
  voices: number;
  /** This process (mixers, packagers) and the ffmpeg encoders, % of one core, per space. */
  nodePercent: number;
  /**
   * The feeder alone (the bench's stand-in for the stage: a 20 ms timer pushing every voice's next
   * packet), measured before and after the mix and the lower taken out of nodePercent, per space.
   */
  harnessPercent: number;
  /**
   * The feeder alone measured more than the mix with it (both times): a neighbour disturbed the
   * run, and nodePercent (clamped at 0) says nothing.
   */
  disturbed: boolean;
  ffmpegPercent: number;
  totalPercent: number;
  /** Mixer work done: frames mixed and packets decoded per second, per space. */
  framesPerSecond: number;
  decodedPerSecond: number;
  /** Packets of voices left out of the mix (not the loudest), played out without decoding. */
  skippedPerSecond: number;
  /** Frames libopus concealed (a packet missing at its turn): about 0 when the feeding keeps time. */
  concealedPerSecond: number;
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
  };
  problems: string[];
}

interface VoicePacket {
  payload: Buffer;
  /** Its RFC 6464 level, as a browser or our bot would send it. */
  dBov: number;
}

/** One voice's Opus packets (a tone), encoded once and looped by the feeder. */
function voicePackets(hz: number, level: number): VoicePacket[] {
  const encoder = new OpusEncoder(48_000, 1);
  return Array.from({ length: 50 }, (_, i) => {
    const pcm = toneFrame(hz, i, level);
    return { payload: encoder.encode(pcm), dBov: dBov(pcm) };
  });
}

type Push = (identity: Identity, seq: number, payload: Buffer, dBov: number) => void;

/**
 * The stage's part, played by a timer: every voice's next packet into every target, 50 a second.
 * Drift-free: a late timer pushes every packet that came due meanwhile, as a stage would have
 * (setInterval alone fell ~12 % short on a busy box, and the mixes concealed the gaps).
 */
function feed(targets: Push[], voices: VoicePacket[][]): NodeJS.Timeout {
  const started = performance.now();
  let seq = 0;
  return setInterval(() => {
    const due = Math.floor((performance.now() - started) / 20);
    for (; seq < due; seq++) {
      for (const push of targets) {
        for (const [k, packets] of voices.entries()) {
          const packet = packets[seq % packets.length]!;
          push(`s${k}` as Identity, seq & 0xffff, packet.payload, packet.dBov);
        }
      }
    }
  }, 20);
}

/** Windows each CPU figure is the median of: the box is shared, and one window can catch a neighbour. */
const WINDOWS = 3;

interface CpuWindow {
  /** This process, % of one core. */
  node: number;
  /** The given child processes together, % of one core. */
  children: number;
}

/** After a 2 s warm-up, WINDOWS windows of `seconds` each: this process's CPU and `pids`'. */
async function cpuWindows(seconds: number, pids: number[] = []): Promise<CpuWindow[]> {
  await sleep(2000);
  const windows: CpuWindow[] = [];
  for (let i = 0; i < WINDOWS; i++) {
    const childrenBefore = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
    const before = process.cpuUsage();
    const started = performance.now();
    await sleep(seconds * 1000);
    const used = process.cpuUsage(before);
    const wall = (performance.now() - started) / 1000;
    const children = pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - childrenBefore;
    windows.push({ node: ((used.user + used.system) / 1e6 / wall) * 100, children: (children / wall) * 100 });
  }
  return windows;
}

/**
 * Runs `spaces` live-space pipelines, each fed `speakers` voices, and measures their CPU (the median
 * of WINDOWS windows of `seconds`); then the feeder alone the same way (once the pipelines are gone
 * and the process is warm), which is taken out of this process's share.
 */
export async function mixCpu(spaces: number, speakers: number, seconds: number): Promise<MixCpu> {
  const ffmpeg = findFfmpeg();
  const root = tempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-bench-mix-')));
  // Tones at levels a few dB apart, as voices are: the mix has a loudest few to choose.
  const voices = Array.from({ length: speakers }, (_, k) => voicePackets(300 + 50 * k, 0.3 * 0.9 ** k));
  const voicesPerMix = loadConfig({}, {}).voices;
  const harnessAlone = () => {
    const harness = feed(
      Array.from({ length: spaces }, () => () => {}),
      voices,
    );
    return cpuWindows(seconds)
      .finally(() => clearInterval(harness))
      .then((windows) => median(windows.map((w) => w.node)));
  };
  // The feeder's own cost, before and after the mix: noise only ever adds to a CPU figure, so the
  // lower of the two is the closer (and the one that leaves the mix the larger share).
  const harnessBefore = await harnessAlone();
  const recordings = Array.from({ length: spaces }, (_, s) => new RecordingDir(path.join(root, `space-${s}`)));
  const mixes = recordings.map((recording) => {
    const packager = new Packager(recording, { partsPerSegment: 8, windowSegments: 6 });
    return new SpaceMix(
      { ffmpeg, bitrate: 64_000, fragmentMs: 250, voices: voicesPerMix },
      {
        runStarted: (init, at) => packager.startRun(init, at),
        fragment: (moof, mdat) => packager.addFragment(moof, mdat),
        runEnded: () => packager.endRun(),
      },
    );
  });
  const feeder = feed(
    mixes.map((mix) => mix.push.bind(mix)),
    voices,
  );
  let measured: Omit<MixCpu, 'harnessPercent' | 'nodePercent' | 'totalPercent' | 'disturbed'> & { grossPercent: number };
  try {
    const countsBefore = mixes.map((m) => ({ ...m.mixer.counts }));
    const started = performance.now();
    const windows = await cpuWindows(
      seconds,
      mixes.map((m) => m.encoderPid!),
    );
    const wall = (performance.now() - started) / 1000;
    const perSecond = (count: (counts: MixerCounts) => number) =>
      mixes.reduce((sum, m, i) => sum + count(m.mixer.counts) - count(countsBefore[i]!), 0) / wall / spaces;
    measured = {
      speakers,
      spaces,
      voices: voicesPerMix,
      grossPercent: median(windows.map((w) => w.node)),
      ffmpegPercent: median(windows.map((w) => w.children)) / spaces,
      framesPerSecond: perSecond((c) => c.frames),
      decodedPerSecond: perSecond((c) => c.decoded),
      skippedPerSecond: perSecond((c) => c.skipped),
      concealedPerSecond: perSecond((c) => c.concealed),
    };
  } finally {
    clearInterval(feeder);
    await Promise.all(mixes.map((m) => m.close()));
    // The last segment's write is queued as the run ends; removing the folder under it fails.
    await Promise.all(recordings.map((r) => r.flushed()));
    removeTempDir(root);
  }
  const harnessPercent = Math.min(harnessBefore, await harnessAlone());
  const { grossPercent, ...figures } = measured;
  const nodePercent = Math.max(0, grossPercent - harnessPercent) / spaces;
  return {
    ...figures,
    nodePercent,
    harnessPercent: harnessPercent / spaces,
    disturbed: grossPercent < harnessPercent,
    totalPercent: nodePercent + figures.ffmpegPercent,
  };
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
  const full = await mixCpu(1, 13, settings.cpuSeconds);
  log(
    `broadcast: 13 speakers: ${full.totalPercent.toFixed(2)} % of a core (node ${full.nodePercent.toFixed(2)}, ffmpeg ${full.ffmpegPercent.toFixed(2)})`,
  );
  const silent = await mixCpu(1, 0, settings.cpuSeconds);
  log(`broadcast: nobody talking: ${silent.totalPercent.toFixed(2)} % of a core`);
  const conversation = await mixCpu(settings.spaces, 2, settings.cpuSeconds);
  log(`broadcast: ${settings.spaces} spaces × 2 voices: ${conversation.totalPercent.toFixed(2)} % of a core per space`);
  for (const [what, m] of [
    ['13 speakers', full],
    ['nobody talking', silent],
    ['2 voices', conversation],
  ] as const) {
    if (m.disturbed) problems.push(`mix CPU (${what}): the feeder alone measured more than the mix with it — the run was disturbed`);
  }

  // Hold the whole broadcast in the live window, so one part stays servable for the wrk runs.
  const server = await startRostrum([], { ROSTRUM_HLS_WINDOW: '120' });
  try {
    const spaceId = await createLiveSpace(server, 'broadcast bench');
    const speaker = await SpeakerBot.join({
      server: server.url,
      token: await seat(server, spaceId, 'a', 'speaker'),
      toneHz: 440,
      clicks: true,
    });
    const ear = await SpeakerBot.join({ server: server.url, token: await seat(server, spaceId, 'b', 'speaker') });
    let heard: Awaited<ReturnType<typeof ListenerBot.listen>>['report'];
    let player: BroadcastMeasurement['player'];
    try {
      await sleep(1000);
      heard = (await ListenerBot.listen({ server: server.url, space: spaceId, seconds: settings.latencySeconds, ffmpeg: findFfmpeg() }))
        .report;
      player = await playerLatency(`${server.url}/s/${spaceId}`, settings.latencySeconds / 2);
      log(`broadcast: hls.js plays ${player.lagMs?.p50} ms behind the wall clock (p50; ${player.stalls} samples without progress)`);
    } finally {
      await speaker.close();
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
    const edge = await edgeCollapsing(server.url, spaceId, settings);
    log(
      `broadcast: edge: ${edge.clientRequests} media requests from ${edge.listeners} listeners, ${edge.originFetches} reached the origin (${edge.objects} objects, at most ${edge.maxOriginFetchesPerObject} each)`,
    );
    try {
      const wrk = (url: string) =>
        runWrk({ url, method: 'GET', threads: 1, connections: settings.connections, durationSeconds: settings.wrkSeconds });
      await wrk(partUrl); // warm-up
      const rostrum = await wrk(partUrl);
      const reference = await wrk(`${nginx.url}/${partUri}`);
      log(
        `broadcast: part serving ${Math.round(rostrum.requestsPerSecond)} req/s vs nginx ${Math.round(reference.requestsPerSecond)} req/s`,
      );
      if (rostrum.failures + reference.failures > 0)
        problems.push(`part serving had errors: rostrum ${rostrum.failures}, nginx ${reference.failures}`);
      return {
        full,
        silent,
        conversation,
        latency: { hls: heard.latency.availableMs, played: heard.latency.playedMs, webrtc, stalls: heard.stalls },
        player,
        serving: { rostrum, nginx: reference, partBytes: bytes.length },
        edge,
        problems,
      };
    } finally {
      await nginx.stop();
      removeTempDir(root);
    }
  } finally {
    await server.stop();
  }
}

/** Simulated players behind a real nginx edge with the shipped config: how often each media object reached the origin. */
async function edgeCollapsing(origin: string, spaceId: string, settings: BroadcastSettings): Promise<BroadcastMeasurement['edge']> {
  const edge = await startEdge(new URL(origin).host);
  try {
    const report = await runLoadTest({
      server: edge.url,
      space: spaceId,
      listeners: settings.edgeListeners,
      rampSeconds: 2,
      durationSeconds: settings.edgeSeconds,
      profile: 'linear',
      reactionsPerMinute: 0,
      allowRemote: false,
    });
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
    };
  } finally {
    await edge.stop();
  }
}
