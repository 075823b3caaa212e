/**
 * A progressive HTTP audio stream (ADTS AAC: Icecast's mount, Rostrum's /listen/<id>.aac) measured
 * from the listeners' side, the same way for every server in the bench: `listeners` plain HTTP
 * readers at once, and the server's CPU over wall time while they listen less its CPU with none
 * (what the listeners cost it); one more listener reads the stream's bytes as they arrive, splits
 * them into ADTS frames and decodes them with ffmpeg, and times each click of the feed (one on every
 * whole wall-clock second) twice: when the bytes holding it arrived, and when a player that starts
 * on the first byte and plays on in real time (waiting when a frame is late) would play it.
 */
import fs from 'node:fs';
import http from 'node:http';
import { AacDecoder } from '../src/bots/aac-decoder.js';
import { type Percentiles, percentiles } from '../src/bots/listener-bot.js';
import { PlaybackClock } from '../src/bots/playback-clock.js';
import { findClicks, SAMPLE_RATE } from '../src/bots/tone.js';
import { cpuSeconds, runSeconds } from './cpu.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const AAC_FRAME_SAMPLES = 1024;

export interface ProgressiveMeasurement {
  listeners: number;
  /** The server's CPU while they listened, % of a core. */
  cpuPercent: number;
  /** The same with the feed and no listener, over the same length of time. */
  idlePercent: number;
  /** Listeners one core would serve at that rate (what the listeners added: CPU less idle). */
  listenersPerCore: number;
  /** Bytes a listener got per second (the stream's rate), and listeners that were cut off. */
  bytesPerListenerPerSecond: number;
  dropped: number;
  /** The clicks' bytes arriving at the timing listener, less the second they were said on. */
  arrivalMs: Percentiles | null;
  /** The same clicks as a player playing from its first byte in real time would play them. */
  playedMs: Percentiles | null;
  problems: string[];
}

/** Where the first whole ADTS frame starts in bytes that may begin mid-frame: a header followed by another (-1: none yet). */
function adtsSync(bytes: Buffer): number {
  for (let at = 0; at + 7 <= bytes.length; at++) {
    if (adtsLength(bytes, at) > 0 && adtsLength(bytes, at + adtsLength(bytes, at)) > 0) return at;
  }
  return -1;
}

/** The length of the ADTS frame whose header is at `at` (0: no header there). */
function adtsLength(bytes: Buffer, at: number): number {
  if (at + 7 > bytes.length || bytes[at] !== 0xff || (bytes[at + 1]! & 0xf6) !== 0xf0) return 0;
  const length = ((bytes[at + 3]! & 0x03) << 11) | (bytes[at + 4]! << 3) | (bytes[at + 5]! >> 5);
  return length >= 7 ? length : 0;
}

/** Where each whole frame ends in ADTS bytes that start on a frame. */
function adtsFrameEnds(bytes: Buffer): number[] {
  const ends: number[] = [];
  let at = 0;
  for (let length = adtsLength(bytes, 0); length > 0 && at + length <= bytes.length; length = adtsLength(bytes, at)) {
    at += length;
    ends.push(at);
  }
  return ends;
}

/** The timing listener: bytes as they arrive, decoded by ffmpeg; clicks timed on arrival and as played. */
async function timedListen(
  name: string,
  url: string,
  ffmpeg: string,
  seconds: number,
): Promise<{ arrival: number[]; played: number[]; problems: string[] }> {
  const chunks: Array<{ end: number; at: number }> = [];
  const bytes: Buffer[] = [];
  let total = 0;
  const pcm: Buffer[] = [];
  const decoder = new AacDecoder(ffmpeg, (b) => pcm.push(b), 'adts');
  // A listener may start mid-frame (Icecast starts one on a block boundary): the stream is taken from the first whole frame.
  let head: Buffer | undefined = Buffer.alloc(0);
  const request = http.get(url, (response) => {
    response.on('data', (b: Buffer) => {
      if (head) {
        head = Buffer.concat([head, b]);
        const sync = adtsSync(head);
        if (sync < 0) return;
        b = head.subarray(sync);
        head = undefined;
      }
      total += b.length;
      chunks.push({ end: total, at: Date.now() });
      bytes.push(b);
      decoder.write(b);
    });
  });
  request.on('error', () => {});
  await sleep(seconds * 1000);
  request.destroy();
  await decoder.end();

  const problems: string[] = [];
  const ends = adtsFrameEnds(Buffer.concat(bytes));
  // Each frame arrived with the chunk that held its last byte (both in stream order).
  let chunk = 0;
  const frameArrivals = ends.map((end) => {
    while (chunk < chunks.length && chunks[chunk]!.end < end) chunk++;
    return chunks[chunk]?.at ?? Number.NaN;
  });
  const audio = Buffer.concat(pcm);
  const decodedFrames = audio.length / 2 / AAC_FRAME_SAMPLES;
  if (Math.abs(decodedFrames - ends.length) > 2) {
    problems.push(`${name}: the timing listener decoded ${decodedFrames.toFixed(1)} AAC frames of the ${ends.length} it received`);
  }
  // Playback from the first frame on, in real time, waiting for frames that come late.
  const playback = new PlaybackClock();
  const stalledBefore: number[] = [];
  for (const at of frameArrivals) {
    playback.arrived(AAC_FRAME_SAMPLES / SAMPLE_RATE, at);
    stalledBefore.push(playback.stalledMs);
  }
  const connectedAt = frameArrivals[0] ?? Number.NaN;
  const arrival: number[] = [];
  const played: number[] = [];
  for (const sample of findClicks(audio)) {
    const frame = Math.floor(sample / AAC_FRAME_SAMPLES);
    const at = frameArrivals[frame];
    // The burst holds seconds of old audio that arrive at once: only clicks that came live are timed.
    if (at === undefined || at - connectedAt < 2000) continue;
    const said = Math.floor(at / 1000) * 1000;
    arrival.push(at - said);
    played.push(connectedAt + stalledBefore[frame]! + (sample / SAMPLE_RATE) * 1000 - said);
  }
  return { arrival, played, problems };
}

/**
 * The process's CPU over the next `seconds`, % of a core: from schedstat (to the nanosecond) when its
 * threads were the same at both ends, else from utime + stime (10 ms ticks, which count exited threads).
 */
export async function processPercent(pid: number, seconds: number): Promise<number> {
  const tasks = () => fs.readdirSync(`/proc/${pid}/task`).sort().join(',');
  const [threads, run, ticks, started] = [tasks(), runSeconds(pid), cpuSeconds(pid), performance.now()];
  await sleep(seconds * 1000);
  const wall = (performance.now() - started) / 1000;
  const used = tasks() === threads ? runSeconds(pid) - run : cpuSeconds(pid) - ticks;
  return (used / wall) * 100;
}

export interface ProgressiveSettings {
  /** Who serves it, for messages. */
  name: string;
  /** The stream's URL. */
  url: string;
  listeners: number;
  /** Seconds the listeners listen (CPU measured over the middle, after a ramp and a settling second). */
  seconds: number;
  ffmpeg: string;
  /** The stream's bitrate, bits/s. */
  bitrate: number;
  /** The server's CPU over the next `seconds`, % of a core. */
  percentOver(seconds: number): Promise<number>;
}

/** `listeners` at once on a progressive stream: what they cost the server, and its glass-to-ear on arrival and as played. */
export async function measureProgressive(settings: ProgressiveSettings): Promise<ProgressiveMeasurement> {
  const { name } = settings;
  const problems: string[] = [];
  const requests: http.ClientRequest[] = [];
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  try {
    const window = Math.max(2, settings.seconds - 3);
    const idlePercent = await settings.percentOver(window);
    let received = 0;
    let ended = 0;
    const rampMs = 2000;
    for (let i = 0; i < settings.listeners; i++) {
      const request = http.get(settings.url, { agent }, (response) => {
        if (response.statusCode !== 200) ended++;
        response.on('data', (b: Buffer) => {
          received += b.length;
        });
        response.on('end', () => ended++);
      });
      request.on('error', () => ended++);
      requests.push(request);
      if (i % 10 === 9) await sleep((rampMs * 10) / settings.listeners);
    }
    const timing = timedListen(name, settings.url, settings.ffmpeg, settings.seconds);
    await sleep(1000);
    const receivedBefore = received;
    const started = performance.now();
    const cpuPercent = await settings.percentOver(window);
    const wall = (performance.now() - started) / 1000;
    const bytesPerListenerPerSecond = (received - receivedBefore) / wall / settings.listeners;
    const timed = await timing;
    problems.push(...timed.problems);
    if (bytesPerListenerPerSecond < (settings.bitrate / 8) * 0.5) {
      problems.push(
        `${name}: listeners got ${Math.round(bytesPerListenerPerSecond)} B/s each, under half the stream's ${settings.bitrate / 8}`,
      );
    }
    if (ended > 0) problems.push(`${name}: ${ended} of ${settings.listeners} listeners were refused or cut off`);
    const arrivalMs = percentiles(timed.arrival);
    const playedMs = percentiles(timed.played);
    if (!arrivalMs || arrivalMs.n < settings.seconds / 2) problems.push(`${name}: only ${arrivalMs?.n ?? 0} clicks were timed`);
    return {
      listeners: settings.listeners,
      cpuPercent,
      idlePercent,
      listenersPerCore: settings.listeners / (Math.max(0.01, cpuPercent - idlePercent) / 100),
      bytesPerListenerPerSecond,
      dropped: ended,
      arrivalMs,
      playedMs,
      problems,
    };
  } finally {
    for (const request of requests) request.destroy();
    agent.destroy();
  }
}
