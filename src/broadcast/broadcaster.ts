/**
 * The broadcasts this node runs: one SpaceBroadcast per live space, started when a space goes live
 * (and, after a restart, for every space the store says is live), ended when the space ends. Each
 * one's mix runs in the media plane, fed by the stage; the broadcaster is the HTTP layer's source
 * for playlists, parts, segments and recordings, live or replayed. Recordings are kept by a
 * RecordingStore (the data directory, or PostgreSQL when several nodes share them).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Bus, Disposer } from '../bus/bus.js';
import { fail } from '../errors.js';
import type { SpaceId } from '../ids.js';
import type { MediaPlane } from '../media/media-plane.js';
import type { MixOptions } from '../media/space-mix.js';
import type { Fence } from '../store/space-store.js';
import { type LiveStream, StreamCounters, type StreamEdges } from './live-stream.js';
import { Packager, type PackagerOptions } from './packager.js';
import type { SegmentRecord } from './playlist.js';
import type { Recording, RecordingInfo, RecordingStore } from './recording-store.js';
import { type ReplayTrim, timelineLength, trimRecords } from './replay-trim.js';
import { SpaceBroadcast } from './space-broadcast.js';

/** A recording file that could not be made is tried again after 1 s, then twice as long each time, up to a minute. */
const FINALIZE_RETRY_FIRST_MS = 1000;
const FINALIZE_RETRY_MAX_MS = 60_000;
/** How long shutdown waits for recording files being made. */
const CLOSE_FINISH_MS = 5000;
/** Replays whose segment index is kept in memory for replay requests (the most recently asked for). */
const REPLAYS_KEPT = 64;

export interface BroadcasterOptions {
  recordings: RecordingStore;
  mix: MixOptions;
  packager: PackagerOptions;
  /** nginx edges with nchan that fan the progressive stream out (deploy/nginx/stream.conf). */
  streamEdges?: StreamEdges;
}

export class Broadcaster {
  private readonly live = new Map<SpaceId, SpaceBroadcast>();
  /** Broadcasts opening (their recording being read) — a request for one waits for it. */
  private readonly opening = new Map<SpaceId, Promise<SpaceBroadcast | undefined>>();
  /**
   * Replays asked for lately, each as read with a trim (its key: replayKey): the most recently used
   * last, at most REPLAYS_KEPT. A broadcast that just ended is served by its live packager until its
   * file is made, then dropped: its live window's bytes are not kept for the life of the process.
   */
  private readonly replays = new Map<SpaceId, { key: string; packager: Packager }>();
  /** Recordings whose file is being made (or retried), and the recording making it. */
  private readonly finishing = new Map<SpaceId, { done: Promise<RecordingInfo | undefined>; recording: Recording }>();
  /** Aborted when the node stops: a recording file's retry waits no longer. */
  private readonly closing = new AbortController();
  private readonly disposers: Disposer[];
  /** What the progressive streams of this node's broadcasts did (/metrics). */
  readonly streams = new StreamCounters();

  constructor(
    private readonly options: BroadcasterOptions,
    private readonly media: MediaPlane,
    private readonly bus: Bus,
    private readonly log: Logger,
    /** Whether this node runs the space: only the owner mixes, encodes and records it. */
    private readonly owns: (spaceId: SpaceId) => boolean = () => true,
    /** This node's fence for a space it runs: its recording writes carry it. */
    private readonly fence: (spaceId: SpaceId) => Fence | undefined = () => undefined,
  ) {
    // An encoder waits, running, for the next broadcast this node starts (media/encoder-pool.ts).
    media.warm(options.mix);
    this.disposers = [
      bus.subscribe('space.live', ({ spaceId }) => {
        if (this.owns(spaceId)) void this.start(spaceId);
      }),
      bus.subscribe('space.ended', ({ spaceId, recording }) => void this.end(spaceId, recording)),
    ];
  }

  /** A space's recording, to read (a replay, a download) or, with this node's fence, to write. */
  recording(spaceId: SpaceId): Recording {
    return this.options.recordings.open(spaceId, this.fence(spaceId));
  }

  get recordings(): RecordingStore {
    return this.options.recordings;
  }

  /**
   * Starts (or, after a restart or a take-over, resumes where its recording ends) a live space's
   * broadcast; idempotent. Resolves with it, or undefined when it could not be opened (logged).
   */
  start(spaceId: SpaceId): Promise<SpaceBroadcast | undefined> {
    const live = this.live.get(spaceId);
    if (live) return Promise.resolve(live);
    let opening = this.opening.get(spaceId);
    if (!opening) {
      const options = { ...this.options, stream: { edges: this.options.streamEdges, counters: this.streams } };
      opening = SpaceBroadcast.open(spaceId, this.recording(spaceId), options, this.media, this.log)
        .then((broadcast) => {
          this.live.set(spaceId, broadcast);
          this.log.info({ spaceId }, 'broadcast started');
          return broadcast;
        })
        .catch((err: unknown) => {
          this.log.error({ err, spaceId }, 'could not open the broadcast (its recording could not be read)');
          return undefined;
        })
        .finally(() => this.opening.delete(spaceId));
      this.opening.set(spaceId, opening);
    }
    return opening;
  }

  /** Ends a space's broadcast; resolves once its recording is made (or deleted). */
  async end(spaceId: SpaceId, keepRecording: boolean): Promise<RecordingInfo | undefined> {
    await this.opening.get(spaceId);
    const broadcast = this.live.get(spaceId);
    if (!broadcast) return undefined;
    // Until its file is made, the replay is what the live packager holds (its last segments may still
    // be on their way to the recording); a space just ended has no trim.
    this.keepReplay(spaceId, replayKey(null), broadcast.packager);
    const done = broadcast
      .end(keepRecording)
      .then(() => {
        this.live.delete(spaceId);
        if (keepRecording) return this.makeFile(spaceId, broadcast.recording, broadcast.packager.segments);
        this.log.info({ spaceId }, 'broadcast ended, not recorded');
        return undefined;
      })
      .catch((err: unknown) => {
        this.live.delete(spaceId);
        this.log.error({ err, spaceId }, 'could not end the broadcast');
        return undefined;
      })
      .finally(() => {
        if (this.replays.get(spaceId)?.packager === broadcast.packager) this.replays.delete(spaceId);
        if (this.finishing.get(spaceId)?.done === done) this.finishing.delete(spaceId);
      });
    this.finishing.set(spaceId, { done, recording: broadcast.recording });
    return done;
  }

  /**
   * Makes the files of ended recordings that have none (the disk was full or ffmpeg failed at the
   * end, or a trim was being applied, and the node stopped before it was done): at start-up. `ended`
   * says, for a space that ended (a live space's recording has no file yet), whether its recording is
   * kept and how its host trimmed it; one that is not kept is deleted.
   */
  async finishUnfinished(ended: (spaceId: SpaceId) => Promise<{ recording: boolean; trim: ReplayTrim | null } | undefined>): Promise<void> {
    for (const spaceId of await this.options.recordings.unfinished()) {
      if (this.finishing.has(spaceId) || this.live.has(spaceId)) continue;
      const space = await ended(spaceId);
      if (!space) continue;
      const recording = this.recording(spaceId);
      if (!space.recording) {
        // What a deletion (or an end with recording off) left behind when the node stopped half way.
        await recording.remove().catch((err: unknown) => this.log.error({ err, spaceId }, 'could not delete a recording that is off'));
        this.log.warn({ spaceId }, 'deleted what was left of a recording that is off');
        continue;
      }
      const done = recording
        .load()
        .then((segments) => this.makeFile(spaceId, recording, applyTrim(segments, space.trim)))
        .catch((err: unknown) => {
          this.log.error({ err, spaceId }, 'could not make the recording file');
          return undefined;
        })
        .finally(() => {
          if (this.finishing.get(spaceId)?.done === done) this.finishing.delete(spaceId);
        });
      this.finishing.set(spaceId, { done, recording });
      this.log.warn({ spaceId }, 'an ended recording has no file yet: making it');
    }
  }

  /**
   * Makes a recording's file from its segments; a failure (a full disk, ffmpeg killed) is counted,
   * logged and retried with backoff for as long as this node runs — meanwhile the recording answers
   * recording_pending with Retry-After, and the next start tries again (finishUnfinished).
   */
  private async makeFile(
    spaceId: SpaceId,
    recording: Recording,
    segments: readonly SegmentRecord[],
    options: { again?: boolean } = {},
  ): Promise<RecordingInfo | undefined> {
    const counters = this.options.recordings.counters;
    let delay = FINALIZE_RETRY_FIRST_MS;
    for (;;) {
      try {
        const info = await recording.finalize(this.options.mix.ffmpeg, [...segments], options);
        this.log.info({ spaceId, recording: info ?? null }, 'recording ready');
        if (info) this.bus.publish('recording.ready', { spaceId, duration: info.duration, bytes: info.bytes });
        return info;
      } catch (err) {
        counters.finalizeFailures++;
        if (this.closing.signal.aborted) throw err;
        this.log.error({ err, spaceId, retryInMs: delay }, 'could not make the recording file; retrying');
        await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => undefined);
        if (this.closing.signal.aborted) throw err;
        delay = Math.min(FINALIZE_RETRY_MAX_MS, delay * 2);
      }
    }
  }

  /**
   * Stops a space's broadcast without ending it: this node no longer runs the space (another took it
   * over). Its recording stays where it is and the new owner resumes it.
   */
  async release(spaceId: SpaceId): Promise<void> {
    await this.opening.get(spaceId);
    const broadcast = this.live.get(spaceId);
    if (!broadcast) return;
    this.live.delete(spaceId);
    this.log.info({ spaceId }, 'broadcast handed over');
    await broadcast.stop();
  }

  /** Whether the recording of a space is still being made. */
  isFinishing(spaceId: SpaceId): boolean {
    return this.finishing.has(spaceId);
  }

  /**
   * The live packager of a space, or its replay once the space has ended: loaded from its recording
   * and cut as the host trimmed it (`trim`, from the space).
   */
  async packager(spaceId: SpaceId, ended: boolean, trim: ReplayTrim | null = null): Promise<Packager | undefined> {
    const live = this.live.get(spaceId) ?? (await this.opening.get(spaceId));
    if (live && !ended) return live.packager;
    if (!ended) return undefined;
    const key = replayKey(trim);
    const kept = this.replays.get(spaceId);
    if (kept?.key === key) {
      this.keepReplay(spaceId, kept.key, kept.packager); // the most recently used, again
      return kept.packager;
    }
    const recording = this.options.recordings.open(spaceId);
    const records = applyTrim(await recording.load(), trim);
    if (records.length === 0) return undefined;
    const replay = new Packager(recording, this.options.packager, records);
    replay.end();
    // Shared recordings: a replay asked for before the owner's last writes landed is not kept.
    if (this.options.recordings.shared && !(await recording.info())) return replay;
    this.keepReplay(spaceId, key, replay);
    return replay;
  }

  private keepReplay(spaceId: SpaceId, key: string, packager: Packager): void {
    this.replays.delete(spaceId);
    this.replays.set(spaceId, { key, packager });
    if (this.replays.size > REPLAYS_KEPT) this.replays.delete(this.replays.keys().next().value as SpaceId);
  }

  /**
   * Where a trim of a space's replay falls at part boundaries (what the replay will then hold);
   * replay_trim_empty when it would leave no audio, recording_not_found when there is no recording.
   */
  async snapTrim(spaceId: SpaceId, trim: ReplayTrim): Promise<{ trim: ReplayTrim; duration: number }> {
    const records = await this.options.recordings.open(spaceId).load();
    if (records.length === 0) throw fail('recording_not_found');
    const cut = trimRecords(records, trim);
    if (!cut)
      throw fail(
        'replay_trim_empty',
        `The recording lasts ${timelineLength(records).toFixed(3)} s; nothing of it lies between ${trim.start} and ${trim.end} s.`,
      );
    return { trim: cut.snapped, duration: timelineLength(records) };
  }

  /**
   * The host trimmed a replay (or undid the trim: null): the replay is read afresh with it, and the
   * recording's file is made again from what it keeps (no re-encode), after any making under way.
   * Resolves once the file is made; meanwhile a download answers recording_pending.
   */
  retrim(spaceId: SpaceId, trim: ReplayTrim | null): Promise<RecordingInfo | undefined> {
    const before = this.finishing.get(spaceId)?.done ?? Promise.resolve(undefined);
    const recording = this.recording(spaceId);
    const done = before
      .then(() => recording.load())
      .then((segments) => this.makeFile(spaceId, recording, applyTrim(segments, trim), { again: true }))
      .catch((err: unknown) => {
        this.log.error({ err, spaceId }, 'could not make the trimmed recording file');
        return undefined;
      })
      .finally(() => {
        if (this.finishing.get(spaceId)?.done === done) this.finishing.delete(spaceId);
      });
    this.finishing.set(spaceId, { done, recording });
    this.replays.delete(spaceId);
    return done;
  }

  /**
   * Deletes an ended space's recording (its segments and its file), after any making under way. The
   * space says it has none already, so nothing serves it; bytes that could not be deleted now (a disk
   * error) are logged — and, when their finished file is gone, deleted at the next start (finishUnfinished).
   */
  async removeRecording(spaceId: SpaceId): Promise<void> {
    await this.finishing.get(spaceId)?.done;
    this.replays.delete(spaceId);
    try {
      await this.recording(spaceId).remove();
      this.log.info({ spaceId }, 'recording deleted');
    } catch (err) {
      this.log.error({ err, spaceId }, 'could not delete all of a recording (it is no longer served)');
    }
  }

  /** The progressive stream of a space live on this node (waiting for one that is opening). */
  async liveStream(spaceId: SpaceId): Promise<LiveStream | undefined> {
    return (this.live.get(spaceId) ?? (await this.opening.get(spaceId)))?.stream;
  }

  /** The live broadcast of a space (tests, metrics). */
  broadcast(spaceId: SpaceId): SpaceBroadcast | undefined {
    return this.live.get(spaceId);
  }

  get liveCount(): number {
    return this.live.size;
  }

  /**
   * Server shutdown: every live broadcast stops cleanly (and resumes on the next start); a recording
   * file still being made gets a few seconds, then is left to the next start (finishUnfinished).
   */
  async close(): Promise<void> {
    for (const dispose of this.disposers) dispose();
    await Promise.all([...this.opening.values()]);
    const finishing = Promise.allSettled([...this.finishing.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      finishing.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), CLOSE_FINISH_MS);
      }),
    ]);
    clearTimeout(timer);
    this.closing.abort();
    if (!finished) {
      this.log.error({ spaces: [...this.finishing.keys()] }, 'stopping before every recording file was made; the next start makes them');
      for (const { recording } of this.finishing.values()) recording.abandon('the server stopped');
    }
    await Promise.all([...this.live.values()].map((b) => b.stop()));
    this.live.clear();
  }
}

/** The cache key of a replay read with `trim`. */
const replayKey = (trim: ReplayTrim | null): string => (trim ? `${trim.start}-${trim.end}` : 'whole');

/** A recording's segments as a replay trimmed with `trim` lists them (all of them without one). */
function applyTrim(records: SegmentRecord[], trim: ReplayTrim | null): SegmentRecord[] {
  if (!trim) return records;
  // A trim that no longer leaves anything (it cannot: it was checked when set) would hide the whole
  // recording; the untrimmed one is served rather than nothing.
  return trimRecords(records, trim)?.records ?? records;
}
