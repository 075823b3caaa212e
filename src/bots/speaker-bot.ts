/**
 * A speaker bot: joins a space's stage over the real `/rtc` signalling and real WebRTC (werift),
 * publishes a sine tone as Opus, and decodes everything it hears into PCM. Used by the tests, and
 * by `rostrum bot speak` (next).
 */
import opus from '@discordjs/opus';
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket } from 'werift';
import WebSocket from 'ws';
import { SLOTS } from '../stage/protocol.js';
import { isLoopback, rtcConfig } from '../stage/rtc-config.js';
import { FRAME_SAMPLES, SAMPLE_RATE, toneFrame } from './tone.js';

// @discordjs/opus is CommonJS: its named exports arrive on the default export under ESM.
const { OpusEncoder } = opus;

export interface SpeakerBotOptions {
  /** Base URL of the Rostrum server, e.g. http://127.0.0.1:8080. */
  server: string;
  token: string;
  /** Tone to publish, Hz. */
  toneHz?: number;
  /** Or PCM to publish (mono s16le, 48 kHz), looped. */
  pcm?: Buffer;
}

export class SpeakerBot {
  /** Everything heard, per receive slot: 20 ms frames of mono s16le PCM at 48 kHz, with arrival times. */
  private readonly slots: Array<Array<{ at: number; pcm: Buffer }>> = [];
  readonly messages: Array<{ type: string; [key: string]: unknown }> = [];
  private readonly encoder: InstanceType<typeof OpusEncoder> = new OpusEncoder(SAMPLE_RATE, 1);
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;

  private constructor(
    private readonly ws: WebSocket,
    private readonly pc: RTCPeerConnection,
    private readonly mic: MediaStreamTrack,
  ) {}

  static async join(options: SpeakerBotOptions): Promise<SpeakerBot> {
    const ws = new WebSocket(`${options.server.replace(/^http/, 'ws')}/rtc`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const pc = new RTCPeerConnection(rtcConfig(isLoopback(new URL(options.server).hostname)));
    const mic = new MediaStreamTrack({ kind: 'audio' });
    const bot = new SpeakerBot(ws, pc, mic);
    ws.on('message', (data) => bot.messages.push(JSON.parse(String(data))));
    pc.addTransceiver(mic, { direction: 'sendonly' });
    for (let i = 0; i < SLOTS; i++) pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.onTrack.subscribe((track) => {
      // One decoder per slot: each carries its own Opus stream.
      const decoder = new OpusEncoder(SAMPLE_RATE, 1);
      const frames: Array<{ at: number; pcm: Buffer }> = [];
      bot.slots.push(frames);
      track.onReceiveRtp.subscribe((rtp) => {
        try {
          frames.push({ at: Date.now(), pcm: decoder.decode(rtp.payload) });
        } catch {
          // a packet the decoder refuses is a loss, as in any client
        }
      });
    });

    try {
      await bot.negotiate(options.token);
    } catch (err) {
      await bot.close();
      throw err;
    }
    if (options.pcm !== undefined) {
      const pcm = options.pcm;
      const frames = Math.max(1, Math.floor(pcm.length / (FRAME_SAMPLES * 2)));
      bot.play((i) => pcm.subarray((i % frames) * FRAME_SAMPLES * 2, ((i % frames) + 1) * FRAME_SAMPLES * 2));
    } else if (options.toneHz !== undefined) {
      const hz = options.toneHz;
      bot.play((i) => toneFrame(hz, i));
    }
    return bot;
  }

  private async negotiate(token: string): Promise<void> {
    this.ws.send(JSON.stringify({ type: 'auth', token: token }));
    await this.waitFor((m) => m.type === 'welcome' || m.type === 'error');
    const welcome = this.messages.find((m) => m.type === 'welcome');
    if (!welcome) throw new Error(`not welcomed: ${JSON.stringify(this.messages)}`);
    if (welcome.role === 'listener') {
      // Waiting on a request to speak: publish once a moderator approves it.
      const outcome = await this.waitFor((m) => m.type === 'request_resolved' && m.identity === welcome.identity, 60_000);
      if (outcome.outcome !== 'approved') throw new Error(`request to speak ${String(outcome.outcome)}`);
    }
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await new Promise<void>((resolve) => {
      if (this.pc.iceGatheringState === 'complete') return resolve();
      this.pc.iceGatheringStateChange.subscribe((s) => s === 'complete' && resolve());
    });
    this.ws.send(JSON.stringify({ type: 'offer', sdp: this.pc.localDescription?.sdp }));
    const answer = await this.waitFor((m) => m.type === 'answer' || m.type === 'error');
    if (answer.type !== 'answer') throw new Error(`offer refused: ${JSON.stringify(answer)}`);
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp as string });
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      const check = () => {
        if (this.pc.connectionState === 'connected') return resolve();
        if (Date.now() > deadline) return reject(new Error(`WebRTC did not connect (${this.pc.connectionState})`));
        setTimeout(check, 20);
      };
      check();
    });
  }

  /** Frames published so far (20 ms each). */
  get framesSent(): number {
    return this.frame;
  }

  /** Encodes and sends `frameAt(i)` as one 20 ms Opus packet every 20 ms. */
  private play(frameAt: (index: number) => Buffer): void {
    const ssrc = Math.floor(Math.random() * 2 ** 31);
    this.timer = setInterval(() => {
      const payload = this.encoder.encode(frameAt(this.frame));
      const header = new RtpHeader({
        payloadType: 111,
        sequenceNumber: this.frame & 0xffff,
        timestamp: (this.frame * FRAME_SAMPLES) >>> 0,
        ssrc,
        marker: false,
      });
      this.mic.writeRtp(new RtpPacket(header, payload));
      this.frame++;
    }, 20);
  }

  /** What was heard since `since` (epoch ms): every slot's audio mixed, as a listener would hear it. */
  heardSince(since: number): Buffer {
    const streams = this.slots.map((frames) => Buffer.concat(frames.filter((f) => f.at >= since).map((f) => f.pcm)));
    const length = Math.max(0, ...streams.map((s) => s.length));
    const mixed = Buffer.alloc(length);
    for (let i = 0; i + 1 < length; i += 2) {
      let sum = 0;
      for (const s of streams) if (i + 1 < s.length) sum += s.readInt16LE(i);
      mixed.writeInt16LE(Math.max(-32768, Math.min(32767, sum)), i);
    }
    return mixed;
  }

  waitFor(
    match: (m: { type: string; [key: string]: unknown }) => boolean,
    timeoutMs = 10_000,
  ): Promise<{ type: string; [key: string]: unknown }> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs;
      const check = () => {
        const found = this.messages.find(match);
        if (found) return resolve(found);
        if (Date.now() > deadline) return reject(new Error(`timed out; messages: ${JSON.stringify(this.messages)}`));
        setTimeout(check, 10);
      };
      check();
    });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.ws.close();
    await this.pc.close();
  }
}
