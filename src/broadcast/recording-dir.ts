/**
 * A broadcast on disk — the recording is the broadcast. Under <dataDir>/broadcasts/<spaceId>/:
 * `init-<run>.mp4` per encoder run, `<msn>.m4s` per segment and `index.jsonl`, one line per segment
 * in order. A segment is written to a temp file, fsynced and renamed into place (durable-file.ts),
 * then its index line is appended and fsynced; so the index names only segments that were whole on
 * disk. Writes go through a WriteQueue: one at a time, off the event loop's critical path, held in
 * memory and retried while the disk is full or failing, and recorded as gaps past the backlog's
 * bound. Reading back checks every segment (its length and its boxes): one damaged after the fact
 * (a power loss, a bad disk) is skipped as a gap and set aside as `<msn>.m4s.damaged`, never served.
 * When the space ends, `recording.m4a` is made from the segments by ffmpeg without re-encoding
 * (remux.ts) with `recording.json` beside it, its duration read from the file itself.
 *
 * The embedded default's RecordingStore: only the node that wrote a directory reads it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { SpaceId } from '../ids.js';
import { appendDurably, syncDir, writeDurably } from './durable-file.js';
import { isWholeSegment } from './fmp4.js';
import { asGap, type SegmentRecord } from './playlist.js';
import type { Recording, RecordingInfo, RecordingStore } from './recording-store.js';
import { remuxRecording } from './remux.js';
import { RecordingCounters, WriteQueue } from './write-queue.js';

/** Ten minutes of audio (about 5 MB at 64 kbit/s) waits in memory for a failing disk. */
const DEFAULT_BACKLOG_SECONDS = 600;
const SEGMENT_FILE = /^(\d+)\.m4s$/;

export interface DirRecordingOptions {
  log?: Logger;
  counters?: RecordingCounters;
  /** Audio held in memory while the disk fails, seconds, before the oldest becomes a gap. */
  maxBacklogSeconds?: number;
}

export class DirRecordingStore implements RecordingStore {
  readonly kind = 'dir';
  readonly shared = false;

  readonly counters: RecordingCounters;

  /** `root`: <dataDir>/broadcasts. */
  constructor(
    readonly root: string,
    private readonly options: DirRecordingOptions = {},
  ) {
    this.counters = options.counters ?? new RecordingCounters();
  }

  open(spaceId: SpaceId): RecordingDir {
    return new RecordingDir(spaceId, path.join(this.root, spaceId), {
      ...this.options,
      counters: this.counters,
    });
  }

  /** Spaces whose recording has segments but no finished file (still live, or a file that could not be made). */
  async unfinished(): Promise<SpaceId[]> {
    const names = await fsp.readdir(this.root).catch(() => [] as string[]);
    const found: SpaceId[] = [];
    for (const name of names) {
      const dir = path.join(this.root, name);
      if (fs.existsSync(path.join(dir, 'index.jsonl')) && !fs.existsSync(path.join(dir, 'recording.json'))) found.push(name as SpaceId);
    }
    return found;
  }

  async infos(spaceIds: readonly SpaceId[]): Promise<Map<SpaceId, RecordingInfo>> {
    const found = new Map<SpaceId, RecordingInfo>();
    for (const id of spaceIds) {
      const info = this.open(id).readInfo();
      if (info) found.set(id, info);
    }
    return found;
  }

  pending(): number {
    return this.counters.pendingWrites;
  }

  async close(): Promise<void> {}
}

export class RecordingDir implements Recording {
  private readonly writes: WriteQueue;
  private readonly counters: RecordingCounters;
  private readonly log: Logger | undefined;

  constructor(
    readonly spaceId: SpaceId,
    readonly dir: string,
    options: DirRecordingOptions = {},
  ) {
    this.counters = options.counters ?? new RecordingCounters();
    this.log = options.log;
    this.writes = new WriteQueue(
      {
        writeInit: async (run, data) => {
          await fsp.mkdir(this.dir, { recursive: true });
          await writeDurably(path.join(this.dir, `init-${run}.mp4`), data);
        },
        writeSegment: async (record, data) => {
          await fsp.mkdir(this.dir, { recursive: true });
          // A gap has no file; its index line is what tells a replay there is nothing there.
          const line = record.gap ? record : { ...record, bytes: data.length };
          if (!record.gap) await writeDurably(this.segmentPath(record.msn), data);
          await appendDurably(path.join(this.dir, 'index.jsonl'), `${JSON.stringify(line)}\n`);
        },
      },
      {
        spaceId,
        counters: this.counters,
        log: options.log,
        maxBacklogSeconds: options.maxBacklogSeconds ?? DEFAULT_BACKLOG_SECONDS,
        retryable: () => true, // a full disk empties, a failing one is replaced: the audio waits in memory meanwhile
      },
    );
  }

  get writeError(): Error | undefined {
    return this.writes.error;
  }

  get recordingPath(): string {
    return path.join(this.dir, 'recording.m4a');
  }

  /**
   * The segments recorded so far, repairing what a crash left (a torn index line, an orphan segment
   * or temporary file) and skipping, as gaps, segments damaged since they were written.
   */
  async load(): Promise<SegmentRecord[]> {
    const indexPath = path.join(this.dir, 'index.jsonl');
    let text: string;
    try {
      text = await fsp.readFile(indexPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const records: SegmentRecord[] = [];
    let validBytes = 0;
    for (const line of text.split('\n')) {
      let record: SegmentRecord & { bytes?: number };
      try {
        record = JSON.parse(line) as SegmentRecord & { bytes?: number };
      } catch {
        break; // a torn last line (or the end)
      }
      if (records.length > 0 && record.msn !== records.at(-1)!.msn + 1) break;
      validBytes += Buffer.byteLength(line) + 1;
      const { bytes, ...segment } = record;
      records.push(segment.gap || (await this.intact(segment.msn, bytes)) ? segment : asGap(segment));
    }
    if (validBytes < Buffer.byteLength(text)) await fsp.truncate(indexPath, validBytes);
    const last = records.at(-1)?.msn ?? -1;
    for (const name of await fsp.readdir(this.dir)) {
      const msn = SEGMENT_FILE.exec(name)?.[1];
      if (name.endsWith('.tmp') || (msn !== undefined && Number(msn) > last)) await fsp.rm(path.join(this.dir, name), { force: true });
    }
    return records;
  }

  writeInit(runNumber: number, data: Buffer): void {
    this.writes.writeInit(runNumber, data);
  }

  appendSegment(record: SegmentRecord, data: Buffer): void {
    this.writes.appendSegment(record, data);
  }

  onLost(listener: (msn: number) => void): void {
    this.writes.onLost(listener);
  }

  abandon(reason: string): void {
    this.writes.abandon(reason);
  }

  /** Resolves once every write asked for so far is on disk (or given up). */
  flushed(): Promise<void> {
    return this.writes.flushed();
  }

  readSegment(msn: number): Promise<Buffer | undefined> {
    return readIfThere(this.segmentPath(msn));
  }

  readInit(runNumber: number): Promise<Buffer | undefined> {
    return readIfThere(path.join(this.dir, `init-${runNumber}.mp4`));
  }

  /** Makes recording.m4a from the segments (one init + every segment, remuxed by ffmpeg, no re-encode). */
  async finalize(
    ffmpeg: string,
    segments: readonly SegmentRecord[],
    options: { again?: boolean } = {},
  ): Promise<RecordingInfo | undefined> {
    await this.flushed();
    // Made again (a trim): the file is unfinished until it is remade, so a crash meanwhile leaves it
    // to the next start (unfinished(), Broadcaster.finishUnfinished) rather than the old cut.
    if (options.again) {
      await fsp.rm(path.join(this.dir, 'recording.json'), { force: true });
      await syncDir(this.dir);
    }
    const info = await remuxRecording(ffmpeg, this, segments, this.recordingPath);
    if (!info) return undefined;
    await writeDurably(path.join(this.dir, 'recording.json'), Buffer.from(JSON.stringify(info)));
    return info;
  }

  async info(): Promise<RecordingInfo | undefined> {
    return this.readInfo();
  }

  /** Only the node that ended the space makes its file, and it knows (Broadcaster.isFinishing). */
  async making(): Promise<boolean> {
    return false;
  }

  async file(): Promise<string | undefined> {
    return this.readInfo() ? this.recordingPath : undefined;
  }

  readInfo(): RecordingInfo | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, 'recording.json'), 'utf8')) as RecordingInfo;
    } catch {
      return undefined;
    }
  }

  /** Deletes everything (recording off). */
  async remove(): Promise<void> {
    this.writes.abandon('recording removed', true);
    await this.flushed();
    // The finished file's figures first: segments a failure leaves behind are then unfinished, and
    // the next start deletes them (Broadcaster.finishUnfinished).
    await fsp.rm(path.join(this.dir, 'recording.json'), { force: true });
    await fsp.rm(this.dir, { recursive: true, force: true });
  }

  private segmentPath(msn: number): string {
    return path.join(this.dir, `${msn}.m4s`);
  }

  /** Whether a recorded segment is there and whole; a damaged one is set aside (counted, logged). */
  private async intact(msn: number, bytes: number | undefined): Promise<boolean> {
    const file = this.segmentPath(msn);
    const data = await readIfThere(file);
    if (data && (bytes === undefined || data.length === bytes) && isWholeSegment(data)) return true;
    if (!data && fs.existsSync(`${file}.damaged`)) return false; // set aside by an earlier read, and said then
    this.counters.segmentsDamaged++;
    this.log?.error(
      { spaceId: this.spaceId, msn, found: data ? `${data.length} bytes, not a whole segment` : 'missing' },
      'recorded segment damaged: skipped as a gap (set aside as .damaged)',
    );
    if (data) await fsp.rename(file, `${file}.damaged`).catch(() => undefined);
    return false;
  }
}

async function readIfThere(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
