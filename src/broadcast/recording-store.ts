/**
 * Where broadcasts are recorded: each segment as it is made, each encoder run's init segment, and at
 * the end the whole recording as one file. The owner of a live space writes its recording; any node
 * reads any recording (a replay, a download, a new owner resuming the broadcast after a take-over).
 *
 * Implementations: recording-dir.ts (the embedded default: the data directory, read only by the node
 * that wrote it) and store/postgres/pg-recordings.ts (scaled out: PostgreSQL, which the nodes
 * already share and which an operator already backs up and replicates — a recording written by a
 * node that is then lost for good still replays and downloads through every other node). One
 * contract suite runs against both (test/recordings/recording-contract.ts).
 */
import type { SpaceId } from '../ids.js';
import type { Fence } from '../store/space-store.js';
import type { SegmentRecord } from './playlist.js';
import type { RecordingCounters } from './write-queue.js';

export interface RecordingInfo {
  /** Seconds of audio. */
  duration: number;
  bytes: number;
  /** When the file was made, epoch ms. */
  createdAt: number;
}

/**
 * One space's recording. Writes are queued and go one at a time, in order, off the caller's path;
 * a write that fails is held in memory and retried, and past the backlog's bound the oldest segments
 * are given up as gaps (write-queue.ts) — `onLost` says which.
 */
export interface Recording {
  /** The segments recorded so far, in order (repairing what a crash left, where that applies). */
  load(): Promise<SegmentRecord[]>;
  writeInit(run: number, data: Buffer): void;
  appendSegment(record: SegmentRecord, data: Buffer): void;
  /** Told the number of each segment given up: it is a gap in the recording from then on. */
  onLost(listener: (msn: number) => void): void;
  /** Resolves once every write asked for so far is stored (or given up: see writeError). */
  flushed(): Promise<void>;
  /** Gives up the writes still waiting (the writer cannot wait any longer); says so in writeError. */
  abandon(reason: string): void;
  /** The first write that failed for good (the broadcast goes on; the owner reports it). */
  readonly writeError: Error | undefined;
  readSegment(msn: number): Promise<Buffer | undefined>;
  readInit(run: number): Promise<Buffer | undefined>;
  /**
   * Makes the whole recording as one file from these segments (remuxed by ffmpeg, no re-encode).
   * `again`: it was made already and is made anew (a trim); until then it counts as unfinished.
   */
  finalize(ffmpeg: string, segments: readonly SegmentRecord[], options?: { again?: boolean }): Promise<RecordingInfo | undefined>;
  /** The finished file's figures, once it is made. */
  info(): Promise<RecordingInfo | undefined>;
  /** Whether the file is being made now (by whichever node ended the space). */
  making(): Promise<boolean>;
  /** A local path holding the finished file (fetched from the engine once per node), once it is made. */
  file(): Promise<string | undefined>;
  /** Deletes everything (recording off). */
  remove(): Promise<void>;
}

export interface RecordingStore {
  readonly kind: string;
  /** Whether every node reads what any node wrote (then a replay is served by whichever node is asked). */
  readonly shared: boolean;
  /**
   * A space's recording. `fence`: the writer's ownership of the space; a store shared between nodes
   * refuses writes whose epoch is no longer the space's (stale_owner), so an owner that was paused
   * past its lease never writes into its successor's recording.
   */
  open(spaceId: SpaceId, fence?: Fence): Recording;
  /** Finished recordings' figures for many spaces at once (a host's feed). */
  infos(spaceIds: readonly SpaceId[]): Promise<Map<SpaceId, RecordingInfo>>;
  /** Segment writes waiting for the engine (it is away, or slow). */
  pending(): number;
  /** What this node's recordings did: write failures, segments lost or damaged, the backlog. */
  readonly counters: RecordingCounters;
  /** Spaces whose recording has segments but no finished file (live ones, and files never made). */
  unfinished(): Promise<SpaceId[]>;
  close(): Promise<void>;
}
