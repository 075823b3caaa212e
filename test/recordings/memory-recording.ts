/** A packager's recording kept in memory: what it wrote, to read back (tests without a store). */
import type { SegmentRecord } from '../../src/broadcast/playlist.js';

export class MemoryRecording {
  readonly segments = new Map<number, { record: SegmentRecord; data: Buffer }>();
  readonly inits = new Map<number, Buffer>();
  writeInit(run: number, data: Buffer): void {
    this.inits.set(run, data);
  }
  appendSegment(record: SegmentRecord, data: Buffer): void {
    this.segments.set(record.msn, { record, data });
  }
  async readSegment(msn: number): Promise<Buffer | undefined> {
    return this.segments.get(msn)?.data;
  }
  async readInit(run: number): Promise<Buffer | undefined> {
    return this.inits.get(run);
  }
}
