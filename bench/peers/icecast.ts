/**
 * Icecast (Debian's `icecast2`, 2.4.4) as the broadcast's peer in the bench: a real Icecast with a
 * private configuration on loopback, fed by ffmpeg with the same AAC encoder settings and bitrate as
 * Rostrum's broadcast (docs/bench-peers.md says how each setting was found), serving `listeners`
 * plain HTTP listeners at once.
 *
 * - CPU per listener: the Icecast process's CPU over wall time while they listen (the feeding
 *   ffmpeg is the encoder, not counted, as Rostrum's mix and encoder are not counted at its edge).
 * - Glass-to-ear: the feed carries a click on every whole wall-clock second (the speaker bot's
 *   clicks); one more listener reads the stream's bytes as they arrive, splits them into ADTS frames
 *   and decodes them with ffmpeg, and times each click twice: when the bytes holding it arrived
 *   (Rostrum's "at the origin" figure counts the same), and when a player that starts on the first
 *   byte and plays on in real time would play it (Rostrum's "played"). Icecast's burst-on-connect is
 *   left at its default (64 KiB, what listeners of an Icecast server get: the burst is why a player
 *   starts at once), so the played figure includes the burst it hands every new listener.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { AacDecoder } from '../../src/bots/aac-decoder.js';
import { type Percentiles, percentiles } from '../../src/bots/listener-bot.js';
import { PlaybackClock } from '../../src/bots/playback-clock.js';
import { findClicks, SAMPLE_RATE, toneFrame, withClick } from '../../src/bots/tone.js';
import { freePort } from '../../src/cluster/local/util.js';
import { cpuSeconds, runSeconds } from '../cpu.js';
import { startDaemon, stop, tempDir, track } from '../processes.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MOUNT = '/live.aac';
const SOURCE_PASSWORD = 'bench-source';
/** Icecast's own default burst (cfgfile.h): what a new listener is handed at once. */
const BURST_BYTES = 65_536;
const AAC_FRAME_SAMPLES = 1024;

export interface IcecastSettings {
  listeners: number;
  /** Seconds the listeners listen (CPU measured over the middle, after a ramp and a settling second). */
  seconds: number;
  ffmpeg: string;
  /** Rostrum's broadcast bitrate, bits/s: the feed uses the same. */
  bitrate: number;
}

export interface IcecastMeasurement {
  version: string;
  listeners: number;
  /** The Icecast process's CPU while they listened, % of a core. */
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
  burstBytes: number;
  problems: string[];
}

interface IcecastProcess {
  pid: number;
  url: string;
  version: string;
  stop(): Promise<void>;
}

function icecastXml(dir: string, port: number, clients: number, asRoot: boolean): string {
  return `<icecast>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>${clients}</clients>
    <sources>2</sources>
    <queue-size>524288</queue-size>
    <burst-size>${BURST_BYTES}</burst-size>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
  </limits>
  <authentication>
    <source-password>${SOURCE_PASSWORD}</source-password>
    <admin-user>admin</admin-user>
    <admin-password>${SOURCE_PASSWORD}-admin</admin-password>
  </authentication>
  <listen-socket><port>${port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>${dir}/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>-</accesslog><errorlog>-</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot>${asRoot ? '<changeowner><user>icecast2</user><group>icecast</group></changeowner>' : ''}</security>
</icecast>
`;
}

/** Starts Icecast in the foreground on a free loopback port; as root it drops to Debian's icecast2 user, as it insists. */
async function startIcecast(clients: number): Promise<IcecastProcess> {
  const dir = tempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-bench-icecast-')));
  fs.mkdirSync(path.join(dir, 'log'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const chown = spawn('chown', ['-R', 'icecast2:icecast', path.join(dir, 'log')]);
    const code = await new Promise<number | null>((resolve) => chown.once('close', resolve));
    if (code !== 0)
      throw new Error("icecast: could not give its log folder to the icecast2 user (is Debian's icecast2 package installed?)");
  }
  const port = await freePort();
  const conf = path.join(dir, 'icecast.xml');
  fs.writeFileSync(conf, icecastXml(dir, port, clients, asRoot));
  const url = `http://127.0.0.1:${port}`;
  const probe = async () =>
    ((await (await fetch(`${url}/status-json.xsl`)).json()) as { icestats?: { server_id?: string } }).icestats?.server_id ?? 'Icecast';
  const daemon = await startDaemon('icecast2', ['-c', conf], dir, probe, 10_000);
  return { pid: daemon.pid, url, version: daemon.answer, stop: daemon.stop };
}

/**
 * The source: ffmpeg encoding 48 kHz mono PCM written to it in real time (a 440 Hz tone with a click
 * on every whole second) with Rostrum's AAC settings, sent to Icecast as ADTS.
 */
function startFeed(settings: IcecastSettings, url: string): { stop(): Promise<void> } {
  const target = `icecast://source:${SOURCE_PASSWORD}@${new URL(url).host}${MOUNT}`;
  const child = track(
    spawn(
      settings.ffmpeg,
      [
        ...['-hide_banner', '-loglevel', 'error', '-f', 's16le', '-ar', String(SAMPLE_RATE), '-ac', '1', '-i', 'pipe:0'],
        // The same encoder and settings as Rostrum's broadcast (src/media/aac-encoder.ts).
        ...['-c:a', 'aac', '-profile:a', 'aac_low', '-aac_coder', 'fast', '-b:a', String(settings.bitrate), '-ac', '1', '-ar', '48000'],
        ...['-f', 'adts', '-content_type', 'audio/aac', '-flush_packets', '1', target],
      ],
      { stdio: ['pipe', 'ignore', 'ignore'] },
    ),
  );
  child.stdin!.on('error', () => {}); // ffmpeg stopping first is the end of the feed
  child.once('error', () => {}); // a feed that never started shows as a mount that never appears
  const startedAt = Date.now();
  let frames = 0;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    while (startedAt + (frames + 1) * 20 <= Date.now()) {
      const frameEnd = startedAt + (frames + 1) * 20;
      child.stdin!.write(withClick(toneFrame(440, frames, 0.2), frameEnd));
      frames++;
    }
    timer = setTimeout(tick, Math.max(1, startedAt + (frames + 1) * 20 - Date.now()));
  };
  tick();
  return {
    stop: async () => {
      clearTimeout(timer);
      child.stdin!.end();
      await stop(child, 2000);
    },
  };
}

/** Whether the feed's mount is up (Icecast's status lists it once the source has connected). */
async function mounted(url: string): Promise<boolean> {
  try {
    const status = (await (await fetch(`${url}/status-json.xsl`)).json()) as { icestats?: { source?: unknown } };
    const sources = status.icestats?.source;
    return (Array.isArray(sources) ? sources : sources ? [sources] : []).some((s) =>
      String((s as { listenurl?: string }).listenurl).endsWith(MOUNT),
    );
  } catch {
    return false;
  }
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
  url: string,
  ffmpeg: string,
  seconds: number,
): Promise<{ arrival: number[]; played: number[]; problems: string[] }> {
  const chunks: Array<{ end: number; at: number }> = [];
  const bytes: Buffer[] = [];
  let total = 0;
  const pcm: Buffer[] = [];
  const decoder = new AacDecoder(ffmpeg, (b) => pcm.push(b), 'adts');
  // Icecast starts a listener on a block boundary, mid-frame: the stream is taken from the first whole frame.
  let head: Buffer | undefined = Buffer.alloc(0);
  const request = http.get(`${url}${MOUNT}`, (response) => {
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
    problems.push(`icecast: the timing listener decoded ${decodedFrames.toFixed(1)} AAC frames of the ${ends.length} it received`);
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
async function processPercent(pid: number, seconds: number): Promise<number> {
  const tasks = () => fs.readdirSync(`/proc/${pid}/task`).sort().join(',');
  const [threads, run, ticks, started] = [tasks(), runSeconds(pid), cpuSeconds(pid), performance.now()];
  await sleep(seconds * 1000);
  const wall = (performance.now() - started) / 1000;
  const used = tasks() === threads ? runSeconds(pid) - run : cpuSeconds(pid) - ticks;
  return (used / wall) * 100;
}

/** Icecast serving `listeners` at once: its CPU per listener, and its glass-to-ear on arrival and as played. */
export async function measureIcecast(settings: IcecastSettings, log: (line: string) => void): Promise<IcecastMeasurement> {
  const problems: string[] = [];
  const icecast = await startIcecast(settings.listeners + 50);
  const feed = startFeed(settings, icecast.url);
  const requests: http.ClientRequest[] = [];
  const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  try {
    log(`icecast: ${icecast.version} at ${icecast.url}, fed by ffmpeg (AAC ${settings.bitrate / 1000} kb/s, ADTS)`);
    // The mount exists once the feed has connected.
    const deadline = Date.now() + 10_000;
    while (!(await mounted(icecast.url))) {
      if (Date.now() > deadline) throw new Error(`icecast: the feed did not appear at ${MOUNT} within 10 s`);
      await sleep(200);
    }
    // A station's feed has run for a while: a new listener gets a whole burst. Wait until one is queued.
    await sleep(((BURST_BYTES * 8) / settings.bitrate) * 1000 + 1000);
    const window = Math.max(2, settings.seconds - 3);
    const idlePercent = await processPercent(icecast.pid, window);
    let received = 0;
    let ended = 0;
    const rampMs = 2000;
    for (let i = 0; i < settings.listeners; i++) {
      const request = http.get(`${icecast.url}${MOUNT}`, { agent }, (response) => {
        response.on('data', (b: Buffer) => {
          received += b.length;
        });
        response.on('end', () => ended++);
      });
      request.on('error', () => ended++);
      requests.push(request);
      if (i % 10 === 9) await sleep((rampMs * 10) / settings.listeners);
    }
    const timing = timedListen(icecast.url, settings.ffmpeg, settings.seconds);
    await sleep(1000);
    const receivedBefore = received;
    const started = performance.now();
    const cpuPercent = await processPercent(icecast.pid, window);
    const wall = (performance.now() - started) / 1000;
    const bytesPerListenerPerSecond = (received - receivedBefore) / wall / settings.listeners;
    const timed = await timing;
    problems.push(...timed.problems);
    if (bytesPerListenerPerSecond < (settings.bitrate / 8) * 0.9) {
      problems.push(`icecast: listeners got ${Math.round(bytesPerListenerPerSecond)} B/s each, under the stream's ${settings.bitrate / 8}`);
    }
    if (ended > 0) problems.push(`icecast: ${ended} of ${settings.listeners} listeners were cut off`);
    const arrivalMs = percentiles(timed.arrival);
    const playedMs = percentiles(timed.played);
    if (!arrivalMs || arrivalMs.n < settings.seconds / 2) problems.push(`icecast: only ${arrivalMs?.n ?? 0} clicks were timed`);
    const listenersPerCore = settings.listeners / (Math.max(0.01, cpuPercent - idlePercent) / 100);
    log(
      `icecast: ${settings.listeners} listeners at ${cpuPercent.toFixed(2)} % of a core (idle ${idlePercent.toFixed(2)} %: ${Math.round(listenersPerCore)} per core); glass-to-ear p50 ${arrivalMs?.p50} ms on arrival, ${playedMs?.p50} ms played`,
    );
    return {
      version: icecast.version,
      listeners: settings.listeners,
      cpuPercent,
      idlePercent,
      listenersPerCore,
      bytesPerListenerPerSecond,
      dropped: ended,
      arrivalMs,
      playedMs,
      burstBytes: BURST_BYTES,
      problems,
    };
  } finally {
    for (const request of requests) request.destroy();
    agent.destroy();
    await feed.stop();
    await icecast.stop();
  }
}
