/**
 * Mixer + encoder CPU of live spaces: each space's real pipeline (jitter buffers, libopus decode,
 * mix, limiter, ffmpeg AAC, LL-HLS packaging, recording to disk), fed its speakers' Opus packets
 * every 20 ms by a timer standing in for the stage.
 *
 * It runs in a process of its own (bench/mix-cpu-child.ts, started by `measureMixCpu`): the bench's
 * own process has run the other suites by then (WebRTC bots, wrk runs, Chromium), and whatever of
 * theirs was still winding down — timers, sweeping, compiling — was charged to the mix. In a fresh
 * process the mix shares its thread with nothing but the feeder, as in the server it shares its
 * media thread with the stage; the feeder is measured alone and taken out.
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import opus from '@discordjs/opus';
import { dBov } from '../src/audio/levels.js';
import { toneFrame } from '../src/bots/tone.js';
import { Packager } from '../src/broadcast/packager.js';
import { DirRecordingStore } from '../src/broadcast/recording-dir.js';
import { broadcastTiming, loadConfig } from '../src/config.js';
import type { Identity, SpaceId } from '../src/ids.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import type { MixerCounts } from '../src/media/mixer.js';
import { SpaceMix } from '../src/media/space-mix.js';
import { runSeconds } from './cpu.js';
import { median } from './join.js';
import { ROOT, removeTempDir, tempDir, track } from './processes.js';

const { OpusEncoder } = opus;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
    const childrenBefore = pids.reduce((sum, pid) => sum + runSeconds(pid), 0);
    const before = process.cpuUsage();
    const started = performance.now();
    await sleep(seconds * 1000);
    const used = process.cpuUsage(before);
    const wall = (performance.now() - started) / 1000;
    const children = pids.reduce((sum, pid) => sum + runSeconds(pid), 0) - childrenBefore;
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
  const recordings = Array.from({ length: spaces }, (_, s) => new DirRecordingStore(root).open(`space-${s}` as SpaceId));
  const mixes = recordings.map((recording) => {
    const packager = new Packager(recording, { timing: broadcastTiming(256), windowSegments: 6 });
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

/** The child's entry, beside this file: `node mix-cpu-child.js <spaces> <speakers> <seconds>`. */
const CHILD = fileURLToPath(new URL('./mix-cpu-child.js', import.meta.url));

/** mixCpu in a fresh process of its own (see the top of this file); rejects with its stderr if it fails. */
export function measureMixCpu(spaces: number, speakers: number, seconds: number): Promise<MixCpu> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [CHILD, String(spaces), String(speakers), String(seconds)],
      { cwd: ROOT, timeout: (seconds * 10 + 60) * 1000, maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`mix CPU child failed (${err.message.split('\n')[0]}): ${stderr.slice(-2000)}`));
        else resolve(JSON.parse(stdout) as MixCpu);
      },
    );
    track(child);
  });
}
