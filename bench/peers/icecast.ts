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
import os from 'node:os';
import path from 'node:path';
import { SAMPLE_RATE, toneFrame, withClick } from '../../src/bots/tone.js';
import { freePort } from '../../src/cluster/local/util.js';
import { startDaemon, stop, tempDir, track } from '../processes.js';
import { measureProgressive, type ProgressiveMeasurement, processPercent } from '../progressive.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MOUNT = '/live.aac';
const SOURCE_PASSWORD = 'bench-source';
/** Icecast's own default burst (cfgfile.h): what a new listener is handed at once. */
const BURST_BYTES = 65_536;

export interface IcecastSettings {
  listeners: number;
  /** Seconds the listeners listen (CPU measured over the middle, after a ramp and a settling second). */
  seconds: number;
  ffmpeg: string;
  /** Rostrum's broadcast bitrate, bits/s: the feed uses the same. */
  bitrate: number;
}

export interface IcecastMeasurement extends ProgressiveMeasurement {
  version: string;
  burstBytes: number;
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

/** Icecast serving `listeners` at once: its CPU per listener, and its glass-to-ear on arrival and as played. */
export async function measureIcecast(settings: IcecastSettings, log: (line: string) => void): Promise<IcecastMeasurement> {
  const icecast = await startIcecast(settings.listeners + 50);
  const feed = startFeed(settings, icecast.url);
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
    const m = await measureProgressive({
      name: 'icecast',
      url: `${icecast.url}${MOUNT}`,
      listeners: settings.listeners,
      seconds: settings.seconds,
      ffmpeg: settings.ffmpeg,
      bitrate: settings.bitrate,
      percentOver: (seconds) => processPercent(icecast.pid, seconds),
    });
    log(
      `icecast: ${m.listeners} listeners at ${m.cpuPercent.toFixed(2)} % of a core (idle ${m.idlePercent.toFixed(2)} %: ${Math.round(m.listenersPerCore)} per core); glass-to-ear p50 ${m.arrivalMs?.p50} ms on arrival, ${m.playedMs?.p50} ms played`,
    );
    return { ...m, version: icecast.version, burstBytes: BURST_BYTES };
  } finally {
    await feed.stop();
    await icecast.stop();
  }
}
