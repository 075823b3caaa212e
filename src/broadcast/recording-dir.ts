/**
 * A broadcast on disk — the recording is the broadcast. Under <dataDir>/broadcasts/<spaceId>/:
 * `init-<run>.mp4` per encoder run, `<msn>.m4s` per segment and `index.jsonl`, one line per segment
 * in order. A segment is written to a temp file and renamed into place, then its index line is
 * appended; so after a crash the index names only whole segments, and a segment file without its
 * line (the one in flight) is dropped. When the space ends, `recording.m4a` is made from the
 * segments by ffmpeg without re-encoding (remuxed, seek index at the front) with `recording.json`
 * beside it (remux.ts). Writes go one at a time, off the event loop's critical path (fs.promises).
 *
 * The embedded default's RecordingStore: only the node that wrote a directory reads it.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { SpaceId } from '../ids.js';
import type { SegmentRecord } from './playlist.js';
import type { Recording, RecordingInfo, RecordingStore } from './recording-store.js';
import { remuxRecording } from './remux.js';

const SEGMENT_FILE = /^(\d+)\.m4s$/;

export class DirRecordingStore implements RecordingStore {
  readonly kind = 'dir';
  readonly shared = false;

  /** `root`: <dataDir>/broadcasts. */
  constructor(readonly root: string) {}

  open(spaceId: SpaceId): RecordingDir {
    return new RecordingDir(path.join(this.root, spaceId));
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
    return 0;
  }

  async close(): Promise<void> {}
}

export class RecordingDir implements Recording {
  private queue: Promise<void> = Promise.resolve();
  /** The first write error, kept so the owner can report it (the broadcast goes on). */
  writeError: Error | undefined;
  private abandoned = false;

  constructor(readonly dir: string) {}

  get recordingPath(): string {
    return path.join(this.dir, 'recording.m4a');
  }

  /** The segments recorded so far, repairing what a crash left: a torn index line, an orphan segment. */
  async load(): Promise<SegmentRecord[]> {
    return this.loadSync();
  }

  loadSync(): SegmentRecord[] {
    const indexPath = path.join(this.dir, 'index.jsonl');
    if (!fs.existsSync(indexPath)) return [];
    const records: SegmentRecord[] = [];
    let validBytes = 0;
    for (const line of fs.readFileSync(indexPath, 'utf8').split('\n')) {
      let record: SegmentRecord;
      try {
        record = JSON.parse(line) as SegmentRecord;
      } catch {
        break; // a torn last line (or the end)
      }
      if (!fs.existsSync(this.segmentPath(record.msn))) break;
      records.push(record);
      validBytes += Buffer.byteLength(line) + 1;
    }
    fs.truncateSync(indexPath, validBytes);
    const last = records.at(-1)?.msn ?? -1;
    for (const name of fs.readdirSync(this.dir)) {
      const msn = SEGMENT_FILE.exec(name)?.[1];
      if (name.endsWith('.tmp') || (msn !== undefined && Number(msn) > last)) fs.rmSync(path.join(this.dir, name));
    }
    return records;
  }

  writeInit(runNumber: number, data: Buffer): void {
    this.enqueue(async () => {
      await fsp.mkdir(this.dir, { recursive: true });
      await atomicWrite(path.join(this.dir, `init-${runNumber}.mp4`), data);
    });
  }

  appendSegment(record: SegmentRecord, data: Buffer): void {
    this.enqueue(async () => {
      await atomicWrite(this.segmentPath(record.msn), data);
      await fsp.appendFile(path.join(this.dir, 'index.jsonl'), `${JSON.stringify(record)}\n`);
    });
  }

  abandon(reason: string): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.writeError ??= new Error(reason);
  }

  /** Resolves once every write asked for so far is on disk. */
  flushed(): Promise<void> {
    return this.queue;
  }

  readSegment(msn: number): Promise<Buffer | undefined> {
    return readIfThere(this.segmentPath(msn));
  }

  readInit(runNumber: number): Promise<Buffer | undefined> {
    return readIfThere(path.join(this.dir, `init-${runNumber}.mp4`));
  }

  /** Makes recording.m4a from the segments (one init + every segment, remuxed by ffmpeg, no re-encode). */
  async finalize(ffmpeg: string, segments: readonly SegmentRecord[]): Promise<RecordingInfo | undefined> {
    await this.flushed();
    const info = await remuxRecording(ffmpeg, this, segments, this.recordingPath);
    if (!info) return undefined;
    await atomicWrite(path.join(this.dir, 'recording.json'), Buffer.from(JSON.stringify(info)));
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
    await this.flushed();
    await fsp.rm(this.dir, { recursive: true, force: true });
  }

  private segmentPath(msn: number): string {
    return path.join(this.dir, `${msn}.m4s`);
  }

  private enqueue(write: () => Promise<void>): void {
    this.queue = this.queue
      .then(() => (this.abandoned ? undefined : write()))
      .catch((err: Error) => {
        this.writeError ??= err;
      });
  }
}

async function atomicWrite(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  await fsp.writeFile(tmp, data);
  await fsp.rename(tmp, file);
}

async function readIfThere(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
