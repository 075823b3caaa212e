/**
 * The LL-HLS packager of one space: takes the encoder's fragments as parts (rebasing each onto one
 * continuous timeline across encoder runs and server restarts), groups them into ~2 s segments,
 * keeps the live window's bytes in memory, hands every finished segment to the recording, and
 * answers the blocking-reload questions ("is part P of segment M out yet?") for the HTTP layer.
 */

import type { BroadcastTiming } from '../config.js';
import { fragmentTiming, initTimescale, rewriteFragment } from './fmp4.js';
import {
  asGap,
  mediaDuration,
  type PlaylistKind,
  type PlaylistSegment,
  type PlaylistView,
  renderPlaylist,
  type SegmentRecord,
  segmentDuration,
} from './playlist.js';
import type { Recording } from './recording-store.js';
import { sliceSegment } from './replay-trim.js';

export interface PackagerOptions {
  /** Part length, parts per segment (8 × 256 ms ≈ 2 s), target duration and how long a request is held (config.ts). */
  timing: Pick<
    BroadcastTiming,
    'partSeconds' | 'partsPerSegment' | 'targetDuration' | 'blockMs' | 'firstSegmentParts' | 'firstPlaylistSegments'
  >;
  /** Whole segments listed in a live playlist. */
  windowSegments: number;
}

interface OpenSegment extends SegmentRecord {
  data: Buffer[];
  /** Parts it closes at. */
  target: number;
}

/** The newest segments whose parts a live playlist lists (RFC 8216bis: within 3 target durations). */
const SEGMENTS_WITH_PARTS = 2;

export class Packager {
  /** Every segment of the broadcast so far (metadata only). */
  private readonly history: SegmentRecord[];
  /** Bytes of the segments in the live window and of their parts. */
  private readonly bytes = new Map<number, { segment?: Buffer; parts: Buffer[] }>();
  private readonly inits = new Map<number, Buffer>();
  private open: OpenSegment | undefined;
  private nextMsn: number;
  private run: number;
  private discontinuity: boolean;
  private timescale = 48_000;
  /** Where the current run's time 0 sits on the broadcast timeline (ticks). */
  private runOffset = 0;
  private timelineEnd: number;
  private runStartedAt = 0;
  /** Segments this run has finished (its first ones are short). */
  private runSegments = 0;
  private sequence: number;
  private waiters: Array<{ ready: () => boolean; wake: () => void }> = [];
  /** Bumped on every change, so a rendered playlist is reused until the next one. */
  private version = 0;
  private readonly renders = new Map<PlaylistKind, { version: number; text: string }>();
  ended = false;
  /** A jump of the mix's clock not yet applied: at this run's media time (ticks), this much later (ms). */
  private jump: { at: number; ms: number } | undefined;
  /** Set when the server stops: nothing will change any more, so nobody should wait. */
  private released = false;

  constructor(
    private readonly recording: Pick<Recording, 'writeInit' | 'appendSegment' | 'readSegment' | 'readInit'> &
      Partial<Pick<Recording, 'onLost'>>,
    private readonly options: PackagerOptions,
    recovered: SegmentRecord[] = [],
  ) {
    this.history = recovered;
    recording.onLost?.((msn) => this.lost(msn));
    const last = recovered.at(-1);
    this.nextMsn = last ? last.msn + 1 : 0;
    this.run = last ? last.run : -1;
    this.discontinuity = last !== undefined;
    this.timelineEnd = Math.round(recovered.reduce((sum, s) => sum + mediaDuration(s), 0) * this.timescale);
    this.sequence = recovered.reduce((sum, s) => sum + (s.gap ? 0 : s.parts.length), 0);
  }

  /**
   * Resuming a live broadcast (after a restart, or on the node that took the space over): the segment
   * after the last one recorded may have been in the making — its parts served — when the previous
   * run stopped. It is marked missing (a gap as long as a segment) rather than numbered again, so no
   * part URL ever names two different pieces of audio. A replay is never resumed.
   */
  resume(): void {
    const last = this.history.at(-1);
    if (!last || last.gap || this.ended) return;
    const gap: SegmentRecord = {
      msn: this.nextMsn++,
      run: last.run,
      discontinuity: false,
      pdt: Math.round(last.pdt + segmentDuration(last) * 1000),
      parts: [this.options.timing.partSeconds * this.options.timing.partsPerSegment],
      gap: true,
    };
    this.history.push(gap);
    this.recording.appendSegment(gap, Buffer.alloc(0));
    this.version++;
  }

  /**
   * The recording gave segment `msn` up (the disk failed for longer than its backlog holds): from now
   * on the playlist lists it as a gap, so a replay never names a segment that is not there.
   */
  private lost(msn: number): void {
    const at = this.history.findLastIndex((s) => s.msn === msn);
    if (at < 0 || this.history[at]!.gap) return;
    this.history[at] = asGap(this.history[at]!);
    this.bytes.delete(msn);
    this.version++;
  }

  /** A new encoder run begins with this init segment; its time 0 is the wall-clock `startedAt`. */
  startRun(init: Buffer, startedAt: number): void {
    this.finishSegment();
    this.jump = undefined; // the new run is anchored afresh
    this.version++;
    this.run++;
    if (this.run > 0) this.discontinuity = true;
    this.timescale = initTimescale(init);
    this.runOffset = this.timelineEnd;
    this.runStartedAt = startedAt;
    this.runSegments = 0;
    this.inits.set(this.run, init);
    this.recording.writeInit(this.run, init);
  }

  /**
   * The mix's clock skipped ahead at sample `atSample` of this run (48 kHz): the process was stalled,
   * and the audio after that point is `jumpMs` later on the wall clock than its media time says. At
   * the first fragment past that point the segment closes, and the next one starts after a
   * discontinuity with a fresh PROGRAM-DATE-TIME — so players' and listeners' latency figures
   * stay true instead of lagging by the stall for the rest of the space.
   */
  clockJumped(atSample: number, jumpMs: number): void {
    if (this.run < 0 || this.ended) return;
    const at = Math.round((atSample * this.timescale) / 48_000);
    this.jump = this.jump ? { at: this.jump.at, ms: this.jump.ms + jumpMs } : { at, ms: jumpMs };
  }

  /** One encoder fragment (moof + mdat) becomes the next part. */
  addFragment(moof: Buffer, mdat: Buffer): void {
    if (this.ended || this.run < 0) return;
    const timing = fragmentTiming(moof);
    // Re-anchor at the fragment that holds the jump (within half a fragment of it).
    if (this.jump && timing.decodeTime + timing.duration / 2 >= this.jump.at) {
      this.finishSegment();
      this.runStartedAt += this.jump.ms;
      this.discontinuity = true;
      this.jump = undefined;
    }
    const start = this.runOffset + timing.decodeTime;
    rewriteFragment(moof, ++this.sequence, start);
    this.timelineEnd = start + timing.duration;
    if (!this.open) {
      const msn = this.nextMsn++;
      this.open = {
        msn,
        run: this.run,
        discontinuity: this.discontinuity,
        pdt: Math.round(this.runStartedAt + (timing.decodeTime / this.timescale) * 1000),
        parts: [],
        data: [],
        // A run's first segments are short (1, 1, 2, 4 parts, then whole: config.ts), so a player
        // joining at the start finds whole segments at once (the first playlist waits for two).
        target: Math.min(
          this.options.timing.partsPerSegment,
          this.options.timing.firstSegmentParts[this.runSegments] ?? Number.POSITIVE_INFINITY,
        ),
      };
      this.discontinuity = false;
      this.bytes.set(msn, { parts: [] });
    }
    const part = Buffer.concat([moof, mdat]);
    this.open.parts.push(timing.duration / this.timescale);
    this.open.data.push(part);
    this.bytes.get(this.open.msn)?.parts.push(part);
    if (this.open.parts.length >= this.open.target) this.finishSegment();
    this.wake();
  }

  /** The current run is over (encoder stopped or died): its last segment closes short. */
  endRun(): void {
    this.finishSegment();
    this.wake();
  }

  /** The broadcast is over: the playlist turns into VOD and every waiting request is answered. */
  end(): void {
    this.endRun();
    this.ended = true;
    this.wake();
  }

  /** The server is stopping: answer every waiting request now, and wait no more. */
  release(): void {
    this.released = true;
    for (const waiter of this.waiters) waiter.wake();
    this.waiters = [];
  }

  get segments(): readonly SegmentRecord[] {
    return this.history;
  }

  /**
   * When the newest part's audio ends, by its program date time (ms since the epoch); undefined
   * before the first part. Its distance from the clock tells a broadcast still making parts (silent
   * or not) from one that stopped (metrics).
   */
  get newestPartEnd(): number | undefined {
    const open = this.open;
    if (open) return open.pdt + open.parts.reduce((sum, seconds) => sum + seconds, 0) * 1000;
    const last = this.history.at(-1);
    return last ? last.pdt + segmentDuration(last) * 1000 : undefined;
  }

  /** The newest media sequence number that exists (complete or being filled), or −1. */
  get lastMsn(): number {
    return this.nextMsn - 1;
  }

  view(): PlaylistView {
    const complete = this.ended ? this.history : this.history.slice(-this.options.windowSegments);
    const first = complete[0]?.msn ?? this.open?.msn ?? this.nextMsn;
    const segments: PlaylistSegment[] = complete.map((s, i) => ({
      ...s,
      complete: true,
      // Only parts this node holds: segments recovered after a restart or a take-over are whole files.
      // The broadcast's first segment is listed whole, never as its one part: hls.js 1.7 starting on
      // the first playlist took that part as its first fragment and, Chromium's buffer ending a
      // microsecond short of it (0.255999 s), fetched it again and again until the next playlist
      // came — up to 200 times (docs/players.md, test/player-button.test.ts).
      listParts:
        s.msn > 0 && !this.ended && i >= complete.length - SEGMENTS_WITH_PARTS && this.bytes.get(s.msn)?.parts.length === s.parts.length,
    }));
    if (this.open && !this.ended) segments.push({ ...this.open, parts: [...this.open.parts], complete: false, listParts: true });
    const nextPart: [number, number] = this.open ? [this.open.msn, this.open.parts.length] : [this.nextMsn, 0];
    return {
      segments,
      discontinuitySequence: this.history.filter((s) => s.msn < first && s.discontinuity).length,
      ended: this.ended,
      nextPart,
      partTarget: this.options.timing.partSeconds,
      targetDuration: this.options.timing.targetDuration,
    };
  }

  /** True once part `part` of segment `msn` exists (or its segment is over, or the broadcast is). */
  hasPart(msn: number, part: number): boolean {
    if (this.ended) return true;
    if (this.open?.msn === msn) return this.open.parts.length > part;
    if (msn > this.lastMsn) return false;
    const done = this.record(msn);
    // Past the last part of a finished segment means part 0 of the next one (RFC 8216bis 6.2.5.2); a gap has none.
    return !done || (!done.gap && part < done.parts.length) || this.hasPart(msn + 1, 0);
  }

  /** True once segment `msn` is complete. */
  hasSegment(msn: number): boolean {
    return this.ended || msn <= (this.history.at(-1)?.msn ?? -1);
  }

  /** Waits (at most `timeoutMs`) until `ready()` holds; resolves with whether it does. */
  waitUntil(ready: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ready() || this.released) return Promise.resolve(ready());
    return new Promise((resolve) => {
      const waiter = {
        ready,
        wake: () => {
          clearTimeout(timer);
          resolve(ready());
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(ready());
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** How long a blocking request for this broadcast is held, ms. */
  /** A first playlist may be answered: the broadcast has its first segments (config.ts, firstPlaylistSegments). */
  get startable(): boolean {
    return this.segments.length >= this.options.timing.firstPlaylistSegments;
  }

  get blockMs(): number {
    return this.options.timing.blockMs;
  }

  /** A part's bytes, while its segment is in the live window. */
  part(msn: number, index: number): Buffer | undefined {
    return this.bytes.get(msn)?.parts[index];
  }

  /**
   * A complete segment's bytes: from memory in the live window, else from the recording (a gap has
   * none). A trimmed replay's edge segment is a slice of its parts, and answers only to its slice's
   * name (`slice`: the [first, end) parts that name asks for): never whole, never another slice.
   */
  async segment(msn: number, slice?: readonly [number, number]): Promise<Buffer | undefined> {
    const record = this.record(msn);
    if (!record || record.gap) return undefined;
    if ((record.slice === undefined) !== (slice === undefined)) return undefined;
    if (record.slice && slice && (record.slice[0] !== slice[0] || record.slice[1] !== slice[1])) return undefined;
    const data = this.bytes.get(msn)?.segment ?? (await this.recording.readSegment(msn));
    return data && record.slice ? sliceSegment(data, record.slice) : data;
  }

  async init(runNumber: number): Promise<Buffer | undefined> {
    return this.inits.get(runNumber) ?? this.recording.readInit(runNumber);
  }

  /** A finished segment's record (searched from the newest: requests are mostly for recent ones). */
  private record(msn: number): SegmentRecord | undefined {
    for (let i = this.history.length - 1; i >= 0; i--) {
      const s = this.history[i]!;
      if (s.msn === msn) return s;
      if (s.msn < msn) return undefined;
    }
    return undefined;
  }

  private finishSegment(): void {
    const open = this.open;
    if (!open) return;
    this.version++;
    this.open = undefined;
    const { data, target: _target, ...record } = open;
    this.runSegments++;
    const segment = Buffer.concat(data);
    this.history.push(record);
    const held = this.bytes.get(record.msn);
    if (held) held.segment = segment;
    this.recording.appendSegment(record, segment);
    // Keep one segment more than the window, for players that fetched the previous playlist.
    for (const msn of this.bytes.keys()) if (msn < record.msn - this.options.windowSegments) this.bytes.delete(msn);
  }

  /**
   * The playlist as text, rendered once per change: when a part comes out, every listener blocked on
   * it is answered at once with the same bytes.
   */
  playlist(kind: PlaylistKind): string {
    const held = this.renders.get(kind);
    if (held?.version === this.version) return held.text;
    const text = renderPlaylist(this.view(), kind);
    this.renders.set(kind, { version: this.version, text });
    return text;
  }

  private wake(): void {
    this.version++;
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const waiter of this.waiters) {
      if (this.ended || waiter.ready()) waiter.wake();
      else still.push(waiter);
    }
    this.waiters = still;
  }
}
