/**
 * A speaker bot: joins a space's stage over the real `/rtc` signalling and real WebRTC (werift),
 * publishes a sine tone as Opus, and decodes everything it hears into PCM. Used by the tests, and
 * by `rostrum bot speak` and by the stage benchmark.
 */
import { MediaStreamTrack, RTCPeerConnection, type RTCPeerConnectionConfig } from 'werift';
import WebSocket from 'ws';
import { FastReceive } from '../stage/fast-receive.js';
import { SLOTS } from '../stage/protocol.js';
import { AUDIO_LEVEL_URI, connected, extensionId, gatheringComplete, rtcConfig } from '../stage/rtc-config.js';
import { isLoopback } from '../stage/rtc-network.js';
import { type HeardFrame, mixPcm, OpusReceiver, OpusSender, type SenderOptions } from './opus-stream.js';
import { FRAME_SAMPLES, toneFrame, withClick } from './tone.js';

export interface SpeakerBotOptions extends SenderOptions {
  /** Base URL of the Rostrum server, e.g. http://127.0.0.1:8080. */
  server: string;
  token: string;
  /** Tone to publish, Hz. */
  toneHz?: number;
  /** Or PCM to publish (mono s16le, 48 kHz), looped. */
  pcm?: Buffer;
  /** Or any 20 ms frame, by index (and the wall time it is sent). */
  frameAt?: (index: number, sentAt: number) => Buffer;
  /** Add a timing click on every whole wall-clock second (for glass-to-ear measurements). */
  clicks?: boolean;
  /** Keep what is heard (default true; load generators turn it off). */
  keepHeard?: boolean;
  /** Called for every frame heard, with its receive slot's index. */
  onHeard?: (slot: number, frame: HeardFrame) => void;
  /** Reach the server only through TURN (the relay the server hands out), as a speaker whose network allows nothing else. */
  relay?: boolean;
  /** Which of the server's TURN URLs to use: udp, tcp (turn:…?transport=tcp) or tls (turns:). Default: the first. */
  turnTransport?: 'udp' | 'tcp' | 'tls';
  /** Gather active ICE-TCP candidates too (RFC 6544), to reach the server's passive ones when UDP is blocked. */
  iceTcp?: boolean;
}

/** An RTCIceServer as the server's welcome hands it out. */
interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export class SpeakerBot {
  /** What each receive slot carried. */
  readonly receivers: OpusReceiver[] = [];
  private sender: OpusSender | undefined;
  private pingCount = 0;

  /**
   * The slots' streams are taken on the fast receive path once established, as on the server: a
   * bench runs 13 bots on the server's two cores, and what they spend the server cannot have.
   */
  private readonly fast: FastReceive;

  /** Resolves when the stage socket closes (the server ended it, the node went away, or close()). */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(
    private readonly ws: WebSocket,
    private readonly pc: RTCPeerConnection,
    /** Every server message but pongs, in order. */
    readonly messages: Array<{ type: string; [key: string]: unknown }>,
    /** Pings waiting for their pong, by their `t`. */
    private readonly pings: Map<number, () => void>,
  ) {
    this.fast = new FastReceive(pc);
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async join(options: SpeakerBotOptions): Promise<SpeakerBot> {
    const ws = new WebSocket(`${options.server.replace(/^http/, 'ws')}/rtc`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const messages: Array<{ type: string; [key: string]: unknown }> = [];
    const pings = new Map<number, () => void>();
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; [key: string]: unknown };
      const pong = message.type === 'pong' ? pings.get(message.t as number) : undefined;
      if (pong) pong();
      else messages.push(message);
    });
    // The welcome hands out the ICE servers (TURN with a credential for this connection): the peer
    // connection is made after it.
    ws.send(JSON.stringify({ type: 'auth', token: options.token }));
    const welcome = await waitFor(messages, (m) => m.type === 'welcome' || m.type === 'error');
    if (welcome.type !== 'welcome') {
      ws.close();
      throw new Error(`not welcomed: ${JSON.stringify(messages)}`);
    }
    const pc = new RTCPeerConnection(SpeakerBot.iceConfig(options, (welcome.iceServers as IceServer[] | undefined) ?? []));
    const mic = new MediaStreamTrack({ kind: 'audio' });
    const bot = new SpeakerBot(ws, pc, messages, pings);
    pc.addTransceiver(mic, { direction: 'sendonly' });
    for (let i = 0; i < SLOTS; i++) pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.onTrack.subscribe((track) => {
      // One decoder per slot: each carries its own Opus stream.
      const slot = bot.receivers.length;
      const onHeard = options.onHeard;
      bot.receivers.push(new OpusReceiver(track, onHeard && ((frame) => onHeard(slot, frame)), options.keepHeard ?? true, bot.fast));
    });

    try {
      await bot.negotiate(welcome);
    } catch (err) {
      await bot.close();
      throw err;
    }
    const frameAt = SpeakerBot.source(options);
    if (frameAt) {
      const audioLevelId = extensionId(pc.remoteDescription?.sdp ?? '', AUDIO_LEVEL_URI);
      bot.sender = new OpusSender(mic, frameAt, { ...options, ...(audioLevelId === undefined ? {} : { audioLevelId }) });
      bot.sender.start();
    }
    return bot;
  }

  /** werift's ICE settings for this bot: the server's ICE servers, narrowed to the TURN transport asked for. */
  private static iceConfig(options: SpeakerBotOptions, iceServers: IceServer[]): RTCPeerConnectionConfig {
    const wanted = options.turnTransport;
    const transportOf = (url: string) => (url.startsWith('turns:') ? 'tls' : /[?&]transport=tcp/.test(url) ? 'tcp' : 'udp');
    // werift uses the first turn: URL it finds (and the first stun: one), so put the chosen one first.
    const servers = iceServers.map((server) => ({
      ...server,
      urls: server.urls.filter((url) => url.startsWith('stun:') || !wanted || transportOf(url) === wanted),
    }));
    if (options.relay && !servers.some((s) => s.urls.some((u) => !u.startsWith('stun:')))) {
      throw new Error(`--relay needs a TURN server${wanted ? ` over ${wanted}` : ''}, and the server hands out none`);
    }
    return rtcConfig(isLoopback(new URL(options.server).hostname), {
      iceServers: servers.filter((s) => s.urls.length > 0),
      ...(options.relay ? { iceTransportPolicy: 'relay' as const } : {}),
      ...(options.iceTcp ? { iceUseTcp: true } : {}),
    });
  }

  private static source(options: SpeakerBotOptions): ((index: number, sentAt: number) => Buffer) | undefined {
    const base = SpeakerBot.baseSource(options);
    if (!options.clicks) return base;
    const silence = Buffer.alloc(FRAME_SAMPLES * 2);
    return (i, sentAt) => withClick(base ? base(i, sentAt) : silence, sentAt);
  }

  private static baseSource(options: SpeakerBotOptions): ((index: number, sentAt: number) => Buffer) | undefined {
    if (options.frameAt) return options.frameAt;
    if (options.pcm !== undefined) {
      const pcm = options.pcm;
      const frames = Math.max(1, Math.floor(pcm.length / (FRAME_SAMPLES * 2)));
      return (i) => pcm.subarray((i % frames) * FRAME_SAMPLES * 2, ((i % frames) + 1) * FRAME_SAMPLES * 2);
    }
    const hz = options.toneHz;
    return hz === undefined ? undefined : (i) => toneFrame(hz, i);
  }

  private async negotiate(welcome: { type: string; [key: string]: unknown }): Promise<void> {
    if (welcome.role === 'listener') {
      // Waiting on a request to speak: publish once a moderator approves it.
      const outcome = await this.waitFor((m) => m.type === 'request_resolved' && m.identity === welcome.identity, 60_000);
      if (outcome.outcome !== 'approved') throw new Error(`request to speak ${String(outcome.outcome)}`);
    }
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gatheringComplete(this.pc);
    this.ws.send(JSON.stringify({ type: 'offer', sdp: this.pc.localDescription?.sdp }));
    const answer = await this.waitFor((m) => m.type === 'answer' || m.type === 'error');
    if (answer.type !== 'answer') throw new Error(`offer refused: ${JSON.stringify(answer)}`);
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp as string });
    await connected(this.pc, 'WebRTC');
  }

  /**
   * The signalling round trip: a ping on the stage socket and the server's pong, ms. Rejects after
   * `timeoutMs` without one.
   */
  ping(timeoutMs = 5000): Promise<number> {
    const t = ++this.pingCount;
    const sentAt = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(t);
        reject(new Error('no pong'));
      }, timeoutMs);
      this.pings.set(t, () => {
        clearTimeout(timer);
        this.pings.delete(t);
        resolve(performance.now() - sentAt);
      });
      this.ws.send(JSON.stringify({ type: 'ping', t }));
    });
  }

  /**
   * The path ICE chose to the server (from getStats): the bot's candidate type (host, srflx, prflx,
   * relay) and transport (udp, tcp), and the server's address as the bot reaches it.
   */
  async path(): Promise<{ candidateType: string; protocol: string; remote: string } | undefined> {
    const stats = [...(await this.pc.getStats()).values()] as Array<Record<string, any>>;
    const byId = new Map(stats.map((s) => [s.id as string, s]));
    const pairId = stats.find((s) => s.type === 'transport')?.selectedCandidatePairId;
    const pair = pairId ? byId.get(pairId) : undefined;
    const local = pair && byId.get(pair.localCandidateId);
    const remote = pair && byId.get(pair.remoteCandidateId);
    if (!local || !remote) return undefined;
    return { candidateType: local.candidateType, protocol: local.protocol, remote: `${remote.address}:${remote.port}` };
  }

  /** Frames published so far (20 ms each). */
  get framesSent(): number {
    return this.sender?.frames ?? 0;
  }

  /** What was heard since `since` (epoch ms): every slot's audio mixed, as a listener would hear it. */
  heardSince(since: number): Buffer {
    return mixPcm(this.receivers.map((r) => Buffer.concat(r.frames.filter((f) => f.at >= since).map((f) => f.pcm))));
  }

  waitFor(
    match: (m: { type: string; [key: string]: unknown }) => boolean,
    timeoutMs = 10_000,
  ): Promise<{ type: string; [key: string]: unknown }> {
    return waitFor(this.messages, match, timeoutMs);
  }

  async close(): Promise<void> {
    this.sender?.stop();
    this.ws.close();
    await this.pc.close();
  }
}

/** The first of `messages` (as they arrive) that matches; rejects after `timeoutMs`. */
function waitFor(
  messages: Array<{ type: string; [key: string]: unknown }>,
  match: (m: { type: string; [key: string]: unknown }) => boolean,
  timeoutMs = 10_000,
): Promise<{ type: string; [key: string]: unknown }> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      const found = messages.find(match);
      if (found) return resolve(found);
      if (Date.now() > deadline) return reject(new Error(`timed out; messages: ${JSON.stringify(messages)}`));
      setTimeout(check, 10);
    };
    check();
  });
}
