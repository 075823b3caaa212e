/**
 * Janus AudioBridge (Debian's `janus`, 1.1.2) as the stage's peer in the bench: a real Janus process
 * with a private configuration (only the AudioBridge plugin and the HTTP transport, on loopback),
 * driven over its HTTP API, its participants plain-RTP bots in the bench process (docs/bench-peers.md
 * says how each setting was found). Plain RTP, not WebRTC: Janus is spared DTLS, SRTP and ICE, which
 * Rostrum's stage pays — the comparison is generous to Janus, and the figures say so.
 *
 * - CPU: a room of `talkers` participants all talking at once (each its own tone), every one hearing
 *   its mix-minus (AudioBridge decodes every voice, mixes, and encodes one Opus stream per
 *   participant), plus one rtp_forward of the whole mix (the room's broadcast: encoded once). The
 *   Janus process's CPU over wall time, the median of three windows, as Rostrum's stage is measured.
 * - Latency: A clicks every 200 ms, B decodes its mix-minus and times each click (bench/clicks.ts),
 *   A and B alone in a room — as Rostrum's "via server" figure.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import opus from '@discordjs/opus';
import { RtpHeader, RtpPacket } from 'werift';
import { FRAME_SAMPLES, SAMPLE_RATE, toneFrame } from '../../src/bots/tone.js';
import { freePort } from '../../src/cluster/local/util.js';
import { CLICK_EVERY_FRAMES, ClickTimer, type Distribution } from '../clicks.js';
import { cpuPercent } from '../cpu.js';
import { median } from '../join.js';
import { startDaemon, tempDir } from '../processes.js';

const { OpusEncoder } = opus;
type Codec = InstanceType<typeof OpusEncoder>;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const OPUS_PT = 111;
const FRAME_MS = 20;
const SILENCE = Buffer.alloc(FRAME_SAMPLES * 2);
/** Participants are taken into the mix after this many packets; 2 (40 ms) is the lowest sane setting (the default is 6). */
const PREBUFFER = 2;

export interface JanusSettings {
  talkers: number;
  /** Seconds of each CPU window (after a warm-up of the same length). */
  cpuSeconds: number;
  clicks: number;
}

export interface JanusMeasurement {
  version: string;
  /** The room's CPU with `talkers` all talking, % of a core: the median of three windows. */
  roomPercent: number;
  /** The same process with a session open and no room, over one window. */
  idlePercent: number;
  talkers: number;
  /** Mix-minus packets the participants received per second in the windows, and a full room's figure. */
  receivedPerSecond: number;
  expectedPerSecond: number;
  /** Packets of the room's one rtp_forward (the whole mix, encoded once) per second. */
  forwardedPerSecond: number;
  latency: Distribution;
  problems: string[];
}

/** The AudioBridge plugin and HTTP transport Debian installs (the folder is named after the architecture). */
function moduleFile(kind: 'plugins' | 'transports', name: string): string {
  for (const lib of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
    const file = path.join(lib, 'janus', kind, name);
    if (fs.existsSync(file)) return file;
  }
  throw new Error(`Janus's ${name} is not installed (apt-get install janus)`);
}

interface JanusProcess {
  pid: number;
  api: string;
  version: string;
  stop(): Promise<void>;
}

/** Starts Janus in the foreground with its configuration in a temp folder: AudioBridge and HTTP only, loopback only. */
async function startJanus(): Promise<JanusProcess> {
  const dir = tempDir(fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-bench-janus-')));
  const folders = { conf: 'conf', plugins: 'plugins', transports: 'transports', empty: 'empty' };
  for (const f of Object.values(folders)) fs.mkdirSync(path.join(dir, f));
  fs.symlinkSync(moduleFile('plugins', 'libjanus_audiobridge.so'), path.join(dir, 'plugins/libjanus_audiobridge.so'));
  fs.symlinkSync(moduleFile('transports', 'libjanus_http.so'), path.join(dir, 'transports/libjanus_http.so'));
  const port = await freePort();
  const rtpBase = 20_000 + Math.floor(Math.random() * 20_000);
  const conf = (file: string, text: string) => fs.writeFileSync(path.join(dir, 'conf', file), text);
  conf(
    'janus.jcfg',
    `general: { configs_folder = "${dir}/conf" plugins_folder = "${dir}/plugins" transports_folder = "${dir}/transports"
  events_folder = "${dir}/empty" loggers_folder = "${dir}/empty" debug_level = 3 session_timeout = 0 }
media: { rtp_port_range = "${rtpBase}-${rtpBase + 199}" }
nat: { ice_enforce_list = "lo" }
plugins: { }
transports: { }
`,
  );
  conf(
    'janus.transport.http.jcfg',
    `general: { json = "compact" base_path = "/janus" http = true port = ${port} ip = "127.0.0.1" https = false }
admin: { admin_http = false }
`,
  );
  conf('janus.plugin.audiobridge.jcfg', `general: { rtp_port_range = "${rtpBase + 200}-${rtpBase + 999}" local_ip = "127.0.0.1" }\n`);
  const api = `http://127.0.0.1:${port}/janus`;
  const probe = async () => ((await (await fetch(`${api}/info`)).json()) as { version_string?: string }).version_string ?? 'unknown';
  const daemon = await startDaemon('janus', ['-F', path.join(dir, 'conf'), '-o'], dir, probe, 15_000);
  return { pid: daemon.pid, api, version: daemon.answer, stop: daemon.stop };
}

type Json = Record<string, unknown>;

/** One Janus session over the HTTP API, with a long-poll loop that hands async events to whoever waits on their transaction. */
class JanusSession {
  private readonly waiting = new Map<string, (event: Json) => void>();
  private polling = true;
  private sequence = 0;
  private poller: Promise<void> = Promise.resolve();

  private constructor(
    private readonly api: string,
    readonly id: number,
  ) {}

  static async open(api: string): Promise<JanusSession> {
    const created = await post(api, { janus: 'create' });
    const session = new JanusSession(api, (created.data as { id: number }).id);
    session.poller = session.poll();
    return session;
  }

  /** A handle on the AudioBridge plugin (each participant needs its own). */
  async attach(): Promise<number> {
    const attached = await post(`${this.api}/${this.id}`, { janus: 'attach', plugin: 'janus.plugin.audiobridge' });
    return (attached.data as { id: number }).id;
  }

  /** A request answered at once (create, rtp_forward): the plugin's data. */
  async request(handle: number, body: Json): Promise<Json> {
    const answer = await post(`${this.api}/${this.id}/${handle}`, { janus: 'message', body });
    const data = (answer.plugindata as { data?: Json } | undefined)?.data;
    if (answer.janus !== 'success' || !data || data.error) throw new Error(`janus ${body.request}: ${JSON.stringify(answer)}`);
    return data;
  }

  /** A request answered by an event (join): the event's plugin data. */
  async asyncRequest(handle: number, body: Json): Promise<Json> {
    const transaction = `t${++this.sequence}`;
    const event = new Promise<Json>((resolve) => this.waiting.set(transaction, resolve));
    const ack = await post(`${this.api}/${this.id}/${handle}`, { janus: 'message', transaction, body });
    if (ack.janus !== 'ack') throw new Error(`janus ${body.request}: ${JSON.stringify(ack)}`);
    const answer = await Promise.race([
      event,
      sleep(10_000).then(() => {
        throw new Error(`janus ${body.request}: no event within 10 s`);
      }),
    ]);
    const data = (answer.plugindata as { data?: Json } | undefined)?.data;
    if (!data || data.error) throw new Error(`janus ${body.request}: ${JSON.stringify(answer)}`);
    return data;
  }

  private async poll(): Promise<void> {
    while (this.polling) {
      try {
        const events = (await (await fetch(`${this.api}/${this.id}?maxev=10`)).json()) as Json | Json[];
        for (const event of Array.isArray(events) ? events : [events]) {
          const resolve = typeof event.transaction === 'string' ? this.waiting.get(event.transaction) : undefined;
          if (resolve && event.janus === 'event') {
            this.waiting.delete(event.transaction as string);
            resolve(event);
          }
        }
      } catch {
        if (this.polling) await sleep(100);
      }
    }
  }

  async close(): Promise<void> {
    this.polling = false;
    await post(`${this.api}/${this.id}`, { janus: 'destroy' }).catch(() => undefined);
    await this.poller;
  }
}

let transactions = 0;
async function post(url: string, body: Json): Promise<Json> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ transaction: `p${++transactions}`, ...body }),
  });
  const json = (await response.json()) as Json;
  if (json.janus === 'error') throw new Error(`janus: ${JSON.stringify(json.error)}`);
  return json;
}

/**
 * A plain-RTP participant: sends one Opus frame every 20 ms from the port it declared at its join
 * (Janus accepts packets only from there), and receives its mix-minus on the same socket.
 */
class RtpParticipant {
  private readonly encoder: Codec = new OpusEncoder(SAMPLE_RATE, 1);
  private readonly decoder: Codec | undefined;
  private readonly ssrc = Math.floor(Math.random() * 2 ** 31);
  private timer: NodeJS.Timeout | undefined;
  private frames = 0;
  private startedAt = 0;
  private janusPort = 0;
  received = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly frameAt: (index: number) => Buffer,
    private readonly onSent: ((index: number, at: number) => void) | undefined,
    onHeard: ((pcm: Buffer, at: number) => void) | undefined,
  ) {
    if (onHeard) this.decoder = new OpusEncoder(SAMPLE_RATE, 1);
    socket.on('message', (message) => {
      this.received++;
      if (!onHeard || !this.decoder) return;
      const at = performance.now();
      onHeard(this.decoder.decode(RtpPacket.deSerialize(message).payload), at);
    });
  }

  static async bind(
    frameAt: (index: number) => Buffer,
    options: { onSent?: (index: number, at: number) => void; onHeard?: (pcm: Buffer, at: number) => void } = {},
  ): Promise<RtpParticipant> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    return new RtpParticipant(socket, frameAt, options.onSent, options.onHeard);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Starts sending to Janus's port for this participant, on a clock that catches up rather than drifts. */
  start(janusPort: number): void {
    this.janusPort = janusPort;
    this.startedAt = performance.now();
    const tick = () => {
      while (this.startedAt + this.frames * FRAME_MS <= performance.now()) this.sendNext();
      this.timer = setTimeout(tick, Math.max(1, this.startedAt + this.frames * FRAME_MS - performance.now()));
    };
    tick();
  }

  private sendNext(): void {
    const index = this.frames++;
    const header = new RtpHeader({
      payloadType: OPUS_PT,
      sequenceNumber: index & 0xffff,
      timestamp: (index * FRAME_SAMPLES) >>> 0,
      ssrc: this.ssrc,
      marker: index === 0,
    });
    this.socket.send(new RtpPacket(header, this.encoder.encode(this.frameAt(index))).serialize(), this.janusPort, '127.0.0.1');
    this.onSent?.(index, performance.now());
  }

  close(): void {
    clearTimeout(this.timer);
    this.socket.close();
  }
}

/** A room at 48 kHz that takes plain-RTP participants, with the lowest sane prebuffer. */
async function createRoom(session: JanusSession, room: number): Promise<number> {
  const handle = await session.attach();
  await session.request(handle, {
    request: 'create',
    room,
    sampling_rate: SAMPLE_RATE,
    allow_rtp_participants: true,
    default_prebuffering: PREBUFFER,
    spatial_audio: false,
    record: false,
  });
  return handle;
}

/** Joins a participant to the room and starts its stream. */
async function join(session: JanusSession, room: number, name: string, participant: RtpParticipant): Promise<void> {
  const handle = await session.attach();
  const joined = await session.asyncRequest(handle, {
    request: 'join',
    room,
    display: name,
    rtp: { ip: '127.0.0.1', port: participant.port, payload_type: OPUS_PT },
  });
  const port = (joined.rtp as { port?: number } | undefined)?.port;
  if (!port) throw new Error(`janus join: no RTP port in ${JSON.stringify(joined)}`);
  participant.start(port);
}

/** A UDP socket that counts what arrives: the rtp_forward's receiver. */
async function packetSink(): Promise<{ port: number; count(): number; close(): void }> {
  const socket = dgram.createSocket('udp4');
  let count = 0;
  socket.on('message', () => count++);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, count: () => count, close: () => socket.close() };
}

/** A and B alone in a room: A's clicks timed at B through Janus's mix. */
async function roomClicks(session: JanusSession, room: number, clicks: number): Promise<Distribution> {
  await createRoom(session, room);
  const timer = new ClickTimer();
  // B sends silence: Janus sends a participant its mix only after a first packet, and a muted browser keeps sending.
  const b = await RtpParticipant.bind(() => SILENCE, {
    onHeard: (pcm, perf) => timer.onHeard({ pcm, perf, at: Date.now(), concealed: false }),
  });
  const a = await RtpParticipant.bind(timer.frameAt, { onSent: timer.onSent });
  try {
    await join(session, room, 'b', b);
    await join(session, room, 'a', a);
    await sleep((clicks + 1) * CLICK_EVERY_FRAMES * 20 + 300);
    return timer.distribution();
  } finally {
    a.close();
    b.close();
  }
}

/** Janus AudioBridge on the stage's work: its CPU with a full room talking, and its speaker-to-speaker latency. */
export async function measureJanus(settings: JanusSettings, log: (line: string) => void): Promise<JanusMeasurement> {
  const problems: string[] = [];
  const janus = await startJanus();
  const participants: RtpParticipant[] = [];
  let session: JanusSession | undefined;
  const sink = await packetSink();
  try {
    log(`janus: ${janus.version} at ${janus.api} (AudioBridge, plain RTP)`);
    session = await JanusSession.open(janus.api);
    const latency = await roomClicks(session, 1001, settings.clicks);
    log(`janus: A → B through the mix p50 ${latency.p50.toFixed(1)} ms p99 ${latency.p99.toFixed(1)} ms (${latency.count} clicks)`);
    if (latency.count < settings.clicks * 0.9) problems.push(`janus: only ${latency.count} of ${settings.clicks} clicks were timed`);

    const idlePercent = await cpuPercent(janus.pid, settings.cpuSeconds);
    const room = 1002;
    const admin = await createRoom(session, room);
    for (let k = 0; k < settings.talkers; k++) {
      const hz = 300 + 50 * k;
      const p = await RtpParticipant.bind((i) => toneFrame(hz, i));
      participants.push(p);
      await join(session, room, `t${k}`, p);
    }
    await session.request(admin, { request: 'rtp_forward', room, host: '127.0.0.1', port: sink.port, codec: 'opus', ptype: OPUS_PT });
    log(`janus: ${settings.talkers} participants talking at once, one rtp_forward; warming up ${settings.cpuSeconds} s`);
    await sleep(settings.cpuSeconds * 1000);
    const receivedBefore = participants.reduce((n, p) => n + p.received, 0);
    const forwardedBefore = sink.count();
    const started = performance.now();
    const windows: number[] = [];
    for (let w = 0; w < 3; w++) windows.push(await cpuPercent(janus.pid, settings.cpuSeconds));
    const wall = (performance.now() - started) / 1000;
    const receivedPerSecond = (participants.reduce((n, p) => n + p.received, 0) - receivedBefore) / wall;
    const forwardedPerSecond = (sink.count() - forwardedBefore) / wall;
    const expectedPerSecond = settings.talkers * (1000 / FRAME_MS);
    const roomPercent = median(windows);
    log(
      `janus: room ${roomPercent.toFixed(1)} % of a core (idle ${idlePercent.toFixed(1)} %); participants got ${Math.round(receivedPerSecond)} packets/s of ${expectedPerSecond}, the forward ${Math.round(forwardedPerSecond)}/s`,
    );
    if (receivedPerSecond < expectedPerSecond * 0.95)
      problems.push(`janus: participants got ${Math.round(receivedPerSecond)} packets/s of ${expectedPerSecond} expected`);
    if (forwardedPerSecond < 50 * 0.95) problems.push(`janus: the rtp_forward sent ${Math.round(forwardedPerSecond)} packets/s of 50`);
    return {
      version: janus.version,
      roomPercent,
      idlePercent,
      talkers: settings.talkers,
      receivedPerSecond,
      expectedPerSecond,
      forwardedPerSecond,
      latency,
      problems,
    };
  } finally {
    for (const p of participants) p.close();
    sink.close();
    await session?.close();
    await janus.stop();
  }
}
