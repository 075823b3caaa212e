/**
 * The two ends of one Opus audio stream over werift, as a bot (or a benchmark) uses them: an
 * OpusSender encodes 20 ms PCM frames and writes them as RTP on a fixed clock; an OpusReceiver
 * decodes what arrives on a track, conceals lost packets with libopus's packet-loss concealment (as
 * any real client's jitter buffer would), and keeps the PCM with arrival times.
 */
import opus from '@discordjs/opus';
import { type MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';
import { dBov } from '../audio/levels.js';
import type { FastReceive } from '../stage/fast-receive.js';
import { FRAME_SAMPLES, SAMPLE_RATE } from './tone.js';

// @discordjs/opus is CommonJS: its named exports arrive on the default export under ESM.
const { OpusEncoder } = opus;
type Codec = InstanceType<typeof OpusEncoder>;

const FRAME_MS = 20;
const FRAME_BYTES = FRAME_SAMPLES * 2;
/** The payload type both ends negotiate for Opus (werift's useOPUS). */
const OPUS_PAYLOAD_TYPE = 111;
/** Gaps longer than this many packets are a restart (a new source in the slot), not loss to conceal. */
const MAX_CONCEALED = 10;
/** An empty payload asks libopus for packet-loss concealment. */
const LOST = Buffer.alloc(0);

export interface SenderOptions {
  /**
   * Drop this fraction of packets before they are sent (loss injected at the source; 0–1): one
   * packet at a random place in every block of 1/lossRate, so the rate is exact and the places random.
   */
  lossRate?: number;
  /** Called with each frame's index and the time (performance.now()) it was written. */
  onSent?: (index: number, at: number) => void;
  /** The negotiated id of the RFC 6464 audio level header extension: each packet then carries its level, as browsers' do. */
  audioLevelId?: number;
}

export class OpusSender {
  private readonly encoder: Codec = new OpusEncoder(SAMPLE_RATE, 1);
  private readonly ssrc = Math.floor(Math.random() * 2 ** 31);
  private timer: NodeJS.Timeout | undefined;
  private startedAt = 0;
  private wallStartedAt = 0;
  /** Frames produced so far (sent or dropped by the injected loss). */
  frames = 0;
  dropped = 0;

  constructor(
    private readonly track: MediaStreamTrack,
    /** Frame `index`, sent at wall time `sentAt` (epoch ms; the moment its last sample counts as captured). */
    private readonly frameAt: (index: number, sentAt: number) => Buffer,
    private readonly options: SenderOptions = {},
  ) {}

  /** Sends one frame every 20 ms, on a clock that catches up rather than drifts. */
  start(): void {
    this.startedAt = performance.now();
    this.wallStartedAt = Date.now();
    const tick = () => {
      while (this.startedAt + this.frames * FRAME_MS <= performance.now()) this.sendNext();
      this.timer = setTimeout(tick, Math.max(1, this.startedAt + this.frames * FRAME_MS - performance.now()));
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private lossBlock: { start: number; lost: number } | undefined;

  private isLost(index: number): boolean {
    const rate = this.options.lossRate;
    if (!rate) return false;
    const size = Math.max(1, Math.round(1 / rate));
    if (!this.lossBlock || index >= this.lossBlock.start + size) {
      this.lossBlock = { start: index, lost: index + Math.floor(Math.random() * size) };
    }
    return index === this.lossBlock.lost;
  }

  private sendNext(): void {
    const index = this.frames++;
    const pcm = this.frameAt(index, this.wallStartedAt + index * FRAME_MS);
    const payload = this.encoder.encode(pcm);
    if (this.isLost(index)) {
      this.dropped++;
      return;
    }
    const header = new RtpHeader({
      payloadType: OPUS_PAYLOAD_TYPE,
      sequenceNumber: index & 0xffff,
      timestamp: (index * FRAME_SAMPLES) >>> 0,
      ssrc: this.ssrc,
      marker: false,
    });
    const levelId = this.options.audioLevelId;
    if (levelId !== undefined) {
      header.extension = true;
      header.extensions = [{ id: levelId, payload: Buffer.from([dBov(pcm)]) }];
    }
    this.track.writeRtp(new RtpPacket(header, payload));
    this.options.onSent?.(index, performance.now());
  }
}

export interface HeardFrame {
  /** Arrival time, epoch ms (Date.now()). */
  at: number;
  /** The same moment on performance.now()'s clock, for latency measurements. */
  perf: number;
  pcm: Buffer;
  /** True for a frame made up by packet-loss concealment. */
  concealed: boolean;
}

export class OpusReceiver {
  private readonly decoder: Codec = new OpusEncoder(SAMPLE_RATE, 1);
  private lastSeq: number | undefined;
  readonly frames: HeardFrame[] = [];
  received = 0;
  concealed = 0;
  /** Jumps in the sequence numbers (loss, or a stream restarting without continuity). */
  discontinuities = 0;

  constructor(
    track: MediaStreamTrack,
    private readonly onFrame?: (frame: HeardFrame) => void,
    /** Keep the PCM (off for load generators that only need the counters). */
    private readonly keep = true,
    /** The connection's fast receive path, if it has one: the track's established stream comes that way. */
    fast?: FastReceive,
  ) {
    const consumer = (rtp: RtpPacket) => this.receive(rtp.header.sequenceNumber, rtp.payload);
    track.onReceiveRtp.subscribe(consumer);
    fast?.deliver(track, consumer);
  }

  private receive(seq: number, payload: Buffer): void {
    const at = Date.now();
    const perf = performance.now();
    const gap = this.lastSeq === undefined ? 1 : (seq - this.lastSeq) & 0xffff;
    if (gap === 0 || gap > 0x8000) return; // a duplicate or a late packet: already concealed
    this.lastSeq = seq;
    if (gap > 1) this.discontinuities++;
    if (gap > 1 && gap <= MAX_CONCEALED) {
      for (let i = 1; i < gap; i++) this.push({ at, perf, pcm: this.conceal(), concealed: true });
    }
    try {
      this.push({ at, perf, pcm: this.decoder.decode(payload), concealed: false });
      this.received++;
    } catch {
      // a packet the decoder refuses is a loss, as in any client
      this.push({ at, perf, pcm: this.conceal(), concealed: true });
    }
  }

  /** One 20 ms frame of libopus packet-loss concealment (it returns up to 120 ms; we take 20). */
  private conceal(): Buffer {
    this.concealed++;
    try {
      return Buffer.from(this.decoder.decode(LOST).subarray(0, FRAME_BYTES));
    } catch {
      return Buffer.alloc(FRAME_BYTES);
    }
  }

  private push(frame: HeardFrame): void {
    if (this.keep) this.frames.push(frame);
    this.onFrame?.(frame);
  }
}

/** Mixes several streams' PCM (mono s16le) sample by sample, clipping at full scale. */
export function mixPcm(streams: Buffer[]): Buffer {
  const length = Math.max(0, ...streams.map((s) => s.length));
  const mixed = Buffer.alloc(length);
  for (let i = 0; i + 1 < length; i += 2) {
    let sum = 0;
    for (const s of streams) if (i + 1 < s.length) sum += s.readInt16LE(i);
    mixed.writeInt16LE(Math.max(-32768, Math.min(32767, sum)), i);
  }
  return mixed;
}
