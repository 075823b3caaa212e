/**
 * A listener bot: pulls a space's broadcast the way an LL-HLS player does — the playlist, then for
 * each next part a blocking playlist reload (`_HLS_msn`/`_HLS_part`) and the part itself, starting
 * PART-HOLD-BACK behind the live edge — decodes it with ffmpeg as it arrives, and reports what it
 * heard: the tones (frequency, level), stalls of a simulated real-time playback, and the glass-to-ear
 * latency of the timing clicks bot speakers send on every whole second (`--clicks`). A replay (VOD
 * playlist) is fetched segment by segment. Used by `rostrum bot listen`, the tests and the benchmarks.
 */
import HLS from 'hls-parser';
import type { MediaPlaylist } from 'hls-parser/types.js';
import { AacDecoder, PRIMING_SAMPLES } from './aac-decoder.js';
import { PlaybackClock } from './playback-clock.js';
import { type Tone, tonesIn } from './spectrum.js';
import { findClicks, SAMPLE_RATE } from './tone.js';

export interface ListenerBotOptions {
  /** Base URL of the Rostrum server (or of an edge in front of it). */
  server: string;
  space: string;
  /** How long to listen (a replay ends sooner when it is over). */
  seconds: number;
  ffmpeg: string;
  /** Parts to start behind the live edge (the playlist's PART-HOLD-BACK is 3). */
  holdBackParts?: number;
}

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface ListenReport {
  space: string;
  /** How long the bot listened, s. */
  seconds: number;
  /** The playlist said the broadcast is over (a replay, or the space ended). */
  ended: boolean;
  parts: number;
  segments: number;
  bytes: number;
  /** Seconds of audio decoded. */
  audioSeconds: number;
  /** From the first request to the first audio decoded, ms. */
  firstAudioMs: number | null;
  /** Times a real-time playback of what arrived would have run dry, and for how long in all. */
  stalls: number;
  stallMs: number;
  discontinuities: number;
  /**
   * The longest stretch of near-silence (below −40 dBFS in 50 ms windows) in the audio played, ms of
   * media — a stall's time comes on top. What a listener hears of an outage; a speaker's own pauses count too.
   */
  longestSilenceMs: number;
  tones: Tone[];
  /** Glass-to-ear of the clicks heard: when their part arrived, and when a player would play them. */
  latency: { clicks: number; availableMs: Percentiles | null; playedMs: Percentiles | null };
  /** HTTP answers other than 200, by status. */
  errors: Record<string, number>;
}

interface PartInfo {
  msn: number;
  index: number;
  /** A whole segment (a replay, or a listener that fell behind). */
  whole: boolean;
  /** A segment marked missing (EXT-X-GAP): skipped, not fetched. */
  gap?: boolean;
  uri: string;
  duration: number;
  /** Wall-clock time of its first sample (EXT-X-PROGRAM-DATE-TIME), epoch ms. */
  pdt: number;
  map: string | undefined;
}

interface Received extends PartInfo {
  arrivedAt: number;
  /** Its first sample's place in the decoded audio (media samples since the first part). */
  startSample: number;
  /** The playback clock's pause total when it arrived (for when it is played). */
  stalledMs: number;
  /** Fetched at the live edge (after a blocking reload), so its arrival is when it came out. */
  atEdge: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class ListenerBot {
  private readonly base: string;
  private readonly received: Received[] = [];
  private readonly pcm: Buffer[] = [];
  private readonly errors: Record<string, number> = {};
  private decoder: AacDecoder | undefined;
  private initUri: string | undefined;
  private initBytes: Buffer | undefined;
  private mediaSamples = 0;
  private bytes = 0;
  private discontinuities = 0;
  private startedAt = 0;
  private firstAudioAt: number | undefined;
  private readonly playback = new PlaybackClock();
  private ended = false;
  private atEdge = false;

  constructor(private readonly options: ListenerBotOptions) {
    this.base = `${options.server.replace(/\/+$/, '')}/hls/${encodeURIComponent(options.space)}/`;
  }

  /** Listens for `seconds` (or to the end of a replay) and reports. */
  static async listen(options: ListenerBotOptions): Promise<{ report: ListenReport; pcm: Buffer }> {
    const bot = new ListenerBot(options);
    await bot.run();
    return { report: bot.report(), pcm: Buffer.concat(bot.pcm) };
  }

  private async run(): Promise<void> {
    this.startedAt = Date.now();
    const deadline = this.startedAt + this.options.seconds * 1000;
    let playlist = await this.playlist('index.m3u8', deadline);
    if (!playlist) return;
    const listed = partsOf(playlist);
    const holdBack = this.options.holdBackParts ?? 3;
    let next: PartInfo | undefined = playlist.endlist ? listed.find((p) => p.whole) : (listed.at(-holdBack) ?? listed[0]);
    while (next && Date.now() < deadline) {
      await this.take(next);
      const after: PartInfo = next;
      next = partsOf(playlist).find((p) => follows(p, after));
      if (next || playlist.endlist) continue;
      // Not listed yet: block until the server has it (RFC 8216bis 6.2.5.2), as LL-HLS players do.
      const wanted = after.whole ? [after.msn + 1, 0] : [after.msn, after.index + 1];
      const reloaded = await this.playlist(`index.m3u8?_HLS_msn=${wanted[0]}&_HLS_part=${wanted[1]}`, deadline);
      if (!reloaded) break;
      this.atEdge = true;
      playlist = reloaded;
      next = partsOf(playlist).find((p) => follows(p, after));
    }
    this.ended = playlist.endlist;
    await this.decoder?.end();
  }

  /**
   * Fetches a playlist, retrying (full jitter, honouring Retry-After) until the deadline. The backoff
   * stops growing at 1 s, as a live player's does (hls.js retries a live playlist about every
   * second): a listener must hear the broadcast again soon after it is back.
   */
  private async playlist(path: string, deadline: number): Promise<MediaPlaylist | undefined> {
    let backoff = 250;
    while (Date.now() < deadline) {
      const response = await this.get(path);
      if (response) {
        const parsed = HLS.parse(response.toString('utf8'));
        if (!parsed.isMasterPlaylist) return parsed as MediaPlaylist;
        throw new Error('expected a media playlist');
      }
      await sleep(Math.min(Math.random() * backoff, deadline - Date.now()));
      backoff = Math.min(backoff * 2, 1000);
    }
    return undefined;
  }

  private async get(path: string): Promise<Buffer | undefined> {
    try {
      const response = await fetch(this.base + path);
      if (response.status === 200) return Buffer.from(await response.arrayBuffer());
      this.errors[response.status] = (this.errors[response.status] ?? 0) + 1;
      await response.body?.cancel();
      const retryAfter = Number(response.headers.get('retry-after'));
      if (retryAfter > 0) await sleep(Math.random() * retryAfter * 1000);
    } catch {
      this.errors.network = (this.errors.network ?? 0) + 1;
    }
    return undefined;
  }

  /** Fetches one part (or segment) and feeds it to the decoder, after its init segment if that changed. */
  private async take(part: PartInfo): Promise<void> {
    if (part.gap) return;
    if (part.map && part.map !== this.initUri) {
      const init = await this.get(part.map);
      if (!init) return;
      if (!this.initBytes || !init.equals(this.initBytes)) this.restartDecoder(init);
      if (this.initUri !== undefined) this.discontinuities++;
      this.initUri = part.map;
      this.initBytes = init;
    }
    const data = await this.get(part.uri);
    if (!data || !this.decoder) return;
    const arrivedAt = Date.now();
    this.bytes += data.length;
    this.playback.arrived(part.duration, arrivedAt);
    this.received.push({ ...part, arrivedAt, startSample: this.mediaSamples, stalledMs: this.playback.stalledMs, atEdge: this.atEdge });
    this.mediaSamples += Math.round(part.duration * SAMPLE_RATE);
    this.decoder.write(data);
  }

  /** A new init segment unlike the last: a fresh decoder, its audio placed where its media starts. */
  private restartDecoder(init: Buffer): void {
    void this.decoder?.end();
    const offset = this.mediaSamples;
    let first = true;
    this.decoder = new AacDecoder(this.options.ffmpeg, (pcm) => {
      this.firstAudioAt ??= Date.now();
      if (first) {
        first = false;
        const gap = offset - this.pcm.reduce((n, b) => n + b.length / 2, 0);
        if (gap > 0) this.pcm.push(Buffer.alloc(gap * 2));
      }
      this.pcm.push(pcm);
    });
    this.decoder.write(init);
  }

  private report(): ListenReport {
    const pcm = Buffer.concat(this.pcm);
    const available: number[] = [];
    const played: number[] = [];
    for (const sample of findClicks(pcm)) {
      const media = sample + PRIMING_SAMPLES;
      const part = this.received.findLast((p) => p.startSample <= media);
      if (!part) continue;
      const offsetMs = ((media - part.startSample) / SAMPLE_RATE) * 1000;
      // The click was said on a whole second; the PDT (mix time less the jitter delay) says which.
      const said = Math.round((part.pdt + offsetMs) / 1000) * 1000;
      if (part.atEdge) available.push(part.arrivedAt - said);
      played.push(this.playback.startedAt! + part.stalledMs + (media / SAMPLE_RATE) * 1000 - said);
    }
    return {
      space: this.options.space,
      seconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
      ended: this.ended,
      parts: this.received.filter((p) => !p.whole).length,
      segments: this.received.filter((p) => p.whole).length,
      bytes: this.bytes,
      audioSeconds: Math.round((pcm.length / 2 / SAMPLE_RATE) * 100) / 100,
      firstAudioMs: this.firstAudioAt === undefined ? null : this.firstAudioAt - this.startedAt,
      stalls: this.playback.stalls,
      stallMs: Math.round(this.playback.stalledMs),
      discontinuities: this.discontinuities,
      longestSilenceMs: longestSilenceMs(pcm),
      tones: tonesIn(pcm),
      latency: { clicks: available.length, availableMs: percentiles(available), playedMs: percentiles(played) },
      errors: this.errors,
    };
  }
}

/** The longest run of 50 ms windows whose RMS is below −40 dBFS, ms. */
function longestSilenceMs(pcm: Buffer): number {
  const window = SAMPLE_RATE / 20;
  const quiet = (0.01 * 32768) ** 2;
  let run = 0;
  let longest = 0;
  for (let at = 0; at + window * 2 <= pcm.length; at += window * 2) {
    let sum = 0;
    for (let i = 0; i < window; i++) sum += pcm.readInt16LE(at + i * 2) ** 2;
    run = sum / window < quiet ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest * 50;
}

/** Every part a playlist lists, in order, and its complete segments whose parts are not listed. */
function partsOf(playlist: MediaPlaylist): PartInfo[] {
  const out: PartInfo[] = [];
  let map: string | undefined;
  for (const segment of playlist.segments) {
    map = segment.map?.uri ?? map;
    const pdt = segment.programDateTime?.getTime() ?? 0;
    if (segment.gap) {
      // Missing media (EXT-X-GAP): listed so the next segment follows it, never fetched.
      out.push({
        msn: segment.mediaSequenceNumber,
        index: -1,
        whole: true,
        gap: true,
        uri: segment.uri,
        duration: segment.duration,
        pdt,
        map,
      });
      continue;
    }
    if (segment.parts.length === 0 || playlist.endlist) {
      if (segment.uri) {
        out.push({ msn: segment.mediaSequenceNumber, index: -1, whole: true, uri: segment.uri, duration: segment.duration, pdt, map });
      }
      continue;
    }
    let offset = 0;
    segment.parts.forEach((part, index) => {
      if (part.hint || part.duration === undefined) return; // a preload hint: not out yet
      out.push({ msn: segment.mediaSequenceNumber, index, whole: false, uri: part.uri, duration: part.duration, pdt: pdt + offset, map });
      offset += part.duration * 1000;
    });
  }
  return out;
}

/** Is `candidate` the piece of audio right after `done`? */
function follows(candidate: PartInfo, done: PartInfo): boolean {
  if (!done.whole && candidate.msn === done.msn) return !candidate.whole && candidate.index === done.index + 1;
  // After a segment (or its last part) comes the next segment, or its first part.
  return candidate.msn === done.msn + 1 && (candidate.whole || candidate.index === 0);
}

export function percentiles(values: number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return {
    n: sorted.length,
    p50: Math.round(at(0.5)),
    p95: Math.round(at(0.95)),
    p99: Math.round(at(0.99)),
    max: Math.round(sorted.at(-1)!),
  };
}
