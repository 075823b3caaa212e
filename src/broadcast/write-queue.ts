/**
 * A recording's writes, one at a time and in order, held in memory until they are stored. A write
 * that fails (a full disk, an I/O error, a database that is away) is logged at error level, counted
 * and retried with backoff — the broadcast goes on meanwhile and the live window is served from
 * memory. Held audio is bounded (`maxBacklogSeconds`): past it, the oldest segments are given up
 * and each becomes a gap — the playlist says EXT-X-GAP and the index records the gap, so a replay
 * never lists a segment that is not there — and the loss is counted and logged. Both recording
 * stores write through one of these (recording-dir.ts, store/postgres/pg-recordings.ts).
 */
import type { Logger } from 'pino';
import type { SpaceId } from '../ids.js';
import { asGap, type SegmentRecord, segmentDuration } from './playlist.js';

/** What the recordings of this node did (/metrics, /readyz): shared by every recording a store opens. */
export class RecordingCounters {
  /** Writes that failed (each attempt). */
  writeFailures = 0;
  /** Segments given up (held too long, or left when a recording was abandoned): gaps in the recording. */
  segmentsLost = 0;
  /** Recorded segments found damaged when read back (skipped, as gaps). */
  segmentsDamaged = 0;
  /** Attempts to make a finished file that failed (retried). */
  finalizeFailures = 0;
  /** Per recording with writes waiting: how many, and the seconds of audio among them. */
  readonly backlog = new Map<object, { writes: number; seconds: number }>();
  /** When a write last failed, and last went through (epoch ms): failing now is a readiness failure. */
  lastFailureAt = 0;
  lastFailure = '';
  lastSuccessAt = 0;

  get backlogSeconds(): number {
    let sum = 0;
    for (const held of this.backlog.values()) sum += held.seconds;
    return sum;
  }

  /** Writes waiting (segments, init segments), on every recording. */
  get pendingWrites(): number {
    let sum = 0;
    for (const held of this.backlog.values()) sum += held.writes;
    return sum;
  }

  /** Why writes are failing now (the last one failed and none went through since), or undefined. */
  failing(): string | undefined {
    return this.lastFailureAt > this.lastSuccessAt ? this.lastFailure : undefined;
  }
}

/** How a store writes one item; a gap segment (`record.gap`) has no data. */
export interface RecordingWriter {
  writeInit(run: number, data: Buffer): Promise<void>;
  writeSegment(record: SegmentRecord, data: Buffer): Promise<void>;
}

export interface WriteQueueOptions {
  spaceId: SpaceId;
  counters: RecordingCounters;
  log: Logger | undefined;
  /** Audio held in memory at most, seconds; past it the oldest segments become gaps. */
  maxBacklogSeconds: number;
  /** Whether a failure may go away (a full disk, an engine away); any other stops the recording. */
  retryable: (err: unknown) => boolean;
}

type Job = { kind: 'init'; run: number; data: Buffer } | { kind: 'segment'; record: SegmentRecord; data: Buffer };

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5000;
/** While writes fail, the log says so again (with the backlog) at most this often. */
const REPEAT_LOG_MS = 30_000;

export class WriteQueue {
  private readonly jobs: Job[] = [];
  private draining: Promise<void> | undefined;
  private abandoned = false;
  private readonly lostListeners: Array<(msn: number) => void> = [];
  /** The first failure that stopped the recording, or the reason it was abandoned. */
  error: Error | undefined;

  constructor(
    private readonly writer: RecordingWriter,
    private readonly options: WriteQueueOptions,
  ) {}

  writeInit(run: number, data: Buffer): void {
    this.push({ kind: 'init', run, data });
  }

  appendSegment(record: SegmentRecord, data: Buffer): void {
    this.push({ kind: 'segment', record, data });
  }

  /** Told the number of each segment given up (it is a gap in the recording from then on). */
  onLost(listener: (msn: number) => void): void {
    this.lostListeners.push(listener);
  }

  /** Resolves once every write asked for so far is stored, or given up. */
  flushed(): Promise<void> {
    return this.draining ?? Promise.resolve();
  }

  /**
   * Gives up the writes still waiting (the writer cannot wait any longer): each segment among them is
   * lost — unless the recording is being deleted (`discard`), when nothing is.
   */
  abandon(reason: string, discard = false): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.error ??= new Error(reason);
    const lost = this.jobs.filter((j): j is Job & { kind: 'segment' } => j.kind === 'segment' && !j.record.gap && !discard);
    this.jobs.length = 0;
    this.updateBacklog();
    for (const job of lost) this.lost(job.record.msn);
    if (lost.length > 0) {
      this.options.log?.error(
        { spaceId: this.options.spaceId, segments: lost.length, reason },
        'recording writes given up; those segments are lost',
      );
    }
  }

  private push(job: Job): void {
    if (this.abandoned) return;
    this.jobs.push(job);
    this.updateBacklog();
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
  }

  private async drain(): Promise<void> {
    const { log, spaceId, counters } = this.options;
    let delay = RETRY_FIRST_MS;
    let failingSince = 0;
    let loggedAt = 0;
    let lostInOutage = 0;
    while (this.jobs.length > 0 && !this.abandoned) {
      const job = this.jobs[0]!;
      try {
        await (job.kind === 'init' ? this.writer.writeInit(job.run, job.data) : this.writer.writeSegment(job.record, job.data));
        if (this.jobs[0] === job) this.jobs.shift();
        this.updateBacklog();
        counters.lastSuccessAt = Date.now();
        if (failingSince) {
          log?.info({ spaceId, failedForMs: Date.now() - failingSince, segmentsLost: lostInOutage }, 'recording writes go through again');
        }
        failingSince = 0;
        lostInOutage = 0;
        delay = RETRY_FIRST_MS;
      } catch (err) {
        counters.writeFailures++;
        counters.lastFailureAt = Date.now();
        counters.lastFailure = describe(err);
        if (!this.options.retryable(err)) {
          log?.error({ spaceId, err }, 'recording write failed and cannot be retried; the recording stops here');
          this.abandon(describe(err));
          this.error = err as Error;
          return;
        }
        const now = Date.now();
        if (!failingSince || now - loggedAt >= REPEAT_LOG_MS) {
          log?.error(
            { spaceId, err: describe(err), backlogSeconds: round(this.pendingSeconds()), segmentsLost: lostInOutage },
            failingSince
              ? 'recording writes still failing; held in memory and retried'
              : 'recording write failed; held in memory and retried',
          );
          loggedAt = now;
        }
        failingSince ||= now;
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(RETRY_MAX_MS, delay * 2);
        lostInOutage += this.shed();
      }
    }
  }

  /** Turns the oldest held segments into gaps until the audio held is within the bound; returns how many. */
  private shed(): number {
    let over = this.pendingSeconds() - this.options.maxBacklogSeconds;
    let shed = 0;
    for (let i = 0; i < this.jobs.length && over > 0; i++) {
      const job = this.jobs[i]!;
      if (job.kind !== 'segment' || job.record.gap) continue;
      const seconds = segmentDuration(job.record);
      this.jobs[i] = { kind: 'segment', record: asGap(job.record), data: Buffer.alloc(0) };
      over -= seconds;
      shed++;
      this.lost(job.record.msn);
    }
    if (shed > 0) {
      this.options.log?.error(
        { spaceId: this.options.spaceId, segments: shed, maxBacklogSeconds: this.options.maxBacklogSeconds },
        'recording backlog over its bound: the oldest segments are given up and recorded as gaps',
      );
      this.updateBacklog();
    }
    return shed;
  }

  private lost(msn: number): void {
    this.options.counters.segmentsLost++;
    for (const listener of this.lostListeners) listener(msn);
  }

  private pendingSeconds(): number {
    let sum = 0;
    for (const job of this.jobs) if (job.kind === 'segment' && !job.record.gap) sum += segmentDuration(job.record);
    return sum;
  }

  private updateBacklog(): void {
    if (this.jobs.length > 0) this.options.counters.backlog.set(this, { writes: this.jobs.length, seconds: this.pendingSeconds() });
    else this.options.counters.backlog.delete(this);
  }
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message}` : (e.message ?? String(err));
}

const round = (n: number): number => Math.round(n * 10) / 10;
