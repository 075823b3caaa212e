/**
 * Recordings in PostgreSQL, for several nodes: the engine they already share for what must last, and
 * the one an operator already backs up and replicates — so a recording outlives the node that wrote
 * it, and a node taking a live space over resumes its broadcast where the recording ends (same
 * playlist, same numbering, after a discontinuity). A broadcast writes 64 kbit/s: ~16 KB a segment
 * every 2 s, ~29 MB an hour, well within what bytea rows carry (an object store would be the next
 * step for very long archives; none is installable here, and this needs no new engine).
 *
 * Segments and init segments are rows. Each write carries its owner's fence and is made only while
 * the space's row says that epoch, under a share lock on that row — a take-over's claim (an UPDATE
 * of the row) and a stale owner's write cannot interleave, so a paused-then-resumed owner never
 * writes into its successor's recording (its writes are refused: stale_owner). While the database is
 * away, writes wait in order in memory and are retried (broadcast/write-queue.ts: pending() counts
 * them; a process that dies meanwhile loses them, which the log says); past the backlog's bound the
 * oldest segments are stored as gaps, so the stored segments always number the broadcast in order.
 *
 * The finished file is remuxed on the node that ended the space, stored as 1 MiB chunks, and fetched
 * once into each serving node's cache directory, from which byte ranges are served.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { SegmentRecord } from '../../broadcast/playlist.js';
import type { Recording, RecordingInfo, RecordingStore } from '../../broadcast/recording-store.js';
import { remuxRecording } from '../../broadcast/remux.js';
import { RecordingCounters, WriteQueue } from '../../broadcast/write-queue.js';
import type { SpaceId } from '../../ids.js';
import type { Row } from '../space-row.js';
import { type Fence, staleOwner } from '../space-store.js';
import { openPool, translate, unavailable } from './pg-pool.js';

const CHUNK_BYTES = 1 << 20;
/** A file "being made" for longer than this was abandoned (its node died): another node may make it. */
const MAKING_STALE_MS = 5 * 60_000;
/** How long a node trusts a finished file's figures before it asks the database again. */
const INFO_HELD_MS = 5000;
/** An hour of audio (about 29 MB at 64 kbit/s) waits in memory for a database that is away. */
const DEFAULT_BACKLOG_SECONDS = 3600;

export class PostgresRecordingStore implements RecordingStore {
  readonly kind = 'postgres';
  readonly shared = true;
  readonly pool: pg.Pool;
  readonly counters: RecordingCounters;
  /**
   * Finished files' figures, each held for INFO_HELD_MS (a file is made again when its host trims
   * the replay, on whichever node: the others learn within that time), and the fetches of files into
   * the cache.
   */
  private readonly ready = new Map<SpaceId, RecordingInfo & { heldUntil: number }>();
  private readonly fetching = new Map<SpaceId, Promise<string | undefined>>();
  closed = false;

  /** `cacheDir`: where this node keeps the finished files it serves. The schema is the store's (migrations.ts). */
  constructor(
    url: string,
    readonly cacheDir: string,
    readonly log?: Logger,
    readonly maxBacklogSeconds = DEFAULT_BACKLOG_SECONDS,
    counters?: RecordingCounters,
  ) {
    this.pool = openPool(url, 4);
    this.counters = counters ?? new RecordingCounters();
  }

  open(spaceId: SpaceId, fence?: Fence): Recording {
    return new PgRecording(this, spaceId, fence);
  }

  async infos(spaceIds: readonly SpaceId[]): Promise<Map<SpaceId, RecordingInfo>> {
    if (spaceIds.length === 0) return new Map();
    const rows = await this.query(
      `SELECT space_id, duration, bytes, created_at FROM recordings WHERE state = 'ready' AND space_id = ANY($1)`,
      [spaceIds],
    );
    return new Map(rows.map((r) => [r.space_id as SpaceId, toInfo(r)]));
  }

  pending(): number {
    return this.counters.pendingWrites;
  }

  async unfinished(): Promise<SpaceId[]> {
    const rows = await this.query(
      `SELECT DISTINCT s.space_id FROM recording_segments s
       WHERE NOT EXISTS (SELECT 1 FROM recordings r WHERE r.space_id = s.space_id AND r.state = 'ready')`,
    );
    return rows.map((r) => r.space_id as SpaceId);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  async query(sql: string, params: unknown[] = []): Promise<Row[]> {
    try {
      return (await this.pool.query(sql, params)).rows as Row[];
    } catch (err) {
      throw translate(err);
    }
  }

  async info(id: SpaceId): Promise<RecordingInfo | undefined> {
    const known = this.ready.get(id);
    if (known && known.heldUntil > Date.now()) {
      const { heldUntil: _, ...info } = known;
      return info;
    }
    const [row] = await this.query(`SELECT duration, bytes, created_at FROM recordings WHERE space_id = $1 AND state = 'ready'`, [id]);
    if (!row) {
      this.ready.delete(id);
      return undefined;
    }
    const info = toInfo(row);
    this.ready.set(id, { ...info, heldUntil: Date.now() + INFO_HELD_MS });
    return info;
  }

  cachePath(id: SpaceId): string {
    return path.join(this.cacheDir, `${id}.m4a`);
  }

  /** The finished file in this node's cache, fetched from the database the first time (once at a time). */
  file(id: SpaceId): Promise<string | undefined> {
    let pending = this.fetching.get(id);
    if (!pending) {
      pending = this.fetch(id).finally(() => this.fetching.delete(id));
      this.fetching.set(id, pending);
    }
    return pending;
  }

  private async fetch(id: SpaceId): Promise<string | undefined> {
    const info = await this.info(id);
    if (!info) return undefined;
    const file = this.cachePath(id);
    const held = await fsp.stat(file).catch(() => undefined);
    // The copy held is this file when it has its size and the time it was made (stamp); one made
    // before a trim is fetched again.
    if (held?.size === info.bytes && Math.round(held.mtimeMs) === info.createdAt) return file;
    await fsp.mkdir(this.cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    const handle = await fsp.open(tmp, 'w');
    try {
      // One chunk a query: a long recording never sits in memory whole.
      const [{ n }] = (await this.query('SELECT count(*)::int AS n FROM recording_chunks WHERE space_id = $1', [id])) as [{ n: number }];
      for (let chunk = 0; chunk < n; chunk++) {
        const [row] = await this.query('SELECT data FROM recording_chunks WHERE space_id = $1 AND chunk = $2', [id, chunk]);
        if (!row) throw new Error(`recording ${id}: chunk ${chunk} of ${n} is missing`);
        await handle.write(row.data as Buffer);
      }
    } finally {
      await handle.close();
    }
    if ((await fsp.stat(tmp)).size !== info.bytes) {
      await fsp.rm(tmp, { force: true });
      throw new Error(`recording ${id}: the stored file is not ${info.bytes} bytes`);
    }
    await stamp(tmp, info);
    await fsp.rename(tmp, file);
    return file;
  }

  forget(id: SpaceId): void {
    this.ready.delete(id);
  }
}

class PgRecording implements Recording {
  private readonly writes: WriteQueue;

  constructor(
    private readonly store: PostgresRecordingStore,
    readonly spaceId: SpaceId,
    private readonly fence: Fence | undefined,
  ) {
    this.writes = new WriteQueue(
      {
        writeInit: (run, data) =>
          this.fenced(
            `INSERT INTO recording_inits (space_id, run, data) %SELECT%
             ON CONFLICT (space_id, run) DO UPDATE SET data = EXCLUDED.data`,
            [this.spaceId, run, data],
          ),
        writeSegment: (record, data) =>
          this.fenced(
            `INSERT INTO recording_segments (space_id, msn, record, data) %SELECT%
             ON CONFLICT (space_id, msn) DO UPDATE SET record = EXCLUDED.record, data = EXCLUDED.data`,
            [this.spaceId, record.msn, JSON.stringify(record), data],
          ),
      },
      {
        spaceId,
        counters: store.counters,
        log: store.log,
        maxBacklogSeconds: store.maxBacklogSeconds,
        // The database away is waited for; anything else (stale_owner above all) stops the recording here.
        retryable: (err) => unavailable(err) && !store.closed,
      },
    );
  }

  get writeError(): Error | undefined {
    return this.writes.error;
  }

  async load(): Promise<SegmentRecord[]> {
    const rows = await this.store.query('SELECT record FROM recording_segments WHERE space_id = $1 ORDER BY msn', [this.spaceId]);
    const records: SegmentRecord[] = [];
    for (const row of rows) {
      const record = row.record as SegmentRecord;
      // A prefix by construction; should one ever not be, its numbering stops at the first gap.
      if (records.length > 0 && record.msn !== records.at(-1)!.msn + 1) break;
      records.push(record);
    }
    return records;
  }

  writeInit(run: number, data: Buffer): void {
    this.writes.writeInit(run, data);
  }

  appendSegment(record: SegmentRecord, data: Buffer): void {
    this.writes.appendSegment(record, data);
  }

  onLost(listener: (msn: number) => void): void {
    this.writes.onLost(listener);
  }

  flushed(): Promise<void> {
    return this.writes.flushed();
  }

  /** Gives up the writes still waiting (the node is handing the space over and cannot wait longer). */
  abandon(reason: string): void {
    this.writes.abandon(reason);
  }

  async readSegment(msn: number): Promise<Buffer | undefined> {
    const [row] = await this.store.query('SELECT data FROM recording_segments WHERE space_id = $1 AND msn = $2', [this.spaceId, msn]);
    return row?.data as Buffer | undefined;
  }

  async readInit(run: number): Promise<Buffer | undefined> {
    const [row] = await this.store.query('SELECT data FROM recording_inits WHERE space_id = $1 AND run = $2', [this.spaceId, run]);
    return row?.data as Buffer | undefined;
  }

  async finalize(
    ffmpeg: string,
    segments: readonly SegmentRecord[],
    options: { again?: boolean } = {},
  ): Promise<RecordingInfo | undefined> {
    await this.flushed();
    if (segments.length === 0) return undefined;
    const id = this.spaceId;
    const now = Date.now();
    // Say it is being made (other nodes answer recording_pending), unless another node is making it
    // now. Made again (a trim), a ready file is taken back to making: until the new one is stored,
    // it counts as unfinished, so a node that dies meanwhile leaves it to the next start.
    const [claimed] = await this.store.query(
      `INSERT INTO recordings (space_id, state, updated_at) VALUES ($1, 'making', $2)
       ON CONFLICT (space_id) DO UPDATE SET state = 'making', updated_at = $2
         WHERE (recordings.state = 'making' AND recordings.updated_at < $3) OR (recordings.state = 'ready' AND $4)
       RETURNING space_id`,
      [id, now, now - MAKING_STALE_MS, options.again === true],
    );
    this.store.forget(id);
    if (!claimed) return this.store.info(id);
    await fsp.mkdir(this.store.cacheDir, { recursive: true });
    const file = this.store.cachePath(id);
    const info = await remuxRecording(ffmpeg, this, segments, file);
    if (!info) return undefined;
    await stamp(file, info);
    const client = await this.store.pool.connect().catch((err: unknown) => {
      throw translate(err);
    });
    try {
      await client.query('BEGIN');
      await client.query('DELETE FROM recording_chunks WHERE space_id = $1', [id]);
      const handle = await fsp.open(file, 'r');
      let chunks = 0;
      try {
        const buffer = Buffer.alloc(CHUNK_BYTES);
        for (;;) {
          const { bytesRead } = await handle.read(buffer, 0, CHUNK_BYTES, chunks * CHUNK_BYTES);
          if (bytesRead === 0) break;
          await client.query('INSERT INTO recording_chunks (space_id, chunk, data) VALUES ($1, $2, $3)', [
            id,
            chunks++,
            Buffer.from(buffer.subarray(0, bytesRead)),
          ]);
        }
      } finally {
        await handle.close();
      }
      await client.query(
        `UPDATE recordings SET state = 'ready', updated_at = $2, duration = $3, bytes = $4, created_at = $5, chunks = $6 WHERE space_id = $1`,
        [id, Date.now(), info.duration, info.bytes, info.createdAt, chunks],
      );
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw translate(err);
    } finally {
      client.release();
    }
    return info;
  }

  info(): Promise<RecordingInfo | undefined> {
    return this.store.info(this.spaceId);
  }

  async making(): Promise<boolean> {
    const [row] = await this.store.query(`SELECT 1 FROM recordings WHERE space_id = $1 AND state = 'making' AND updated_at >= $2`, [
      this.spaceId,
      Date.now() - MAKING_STALE_MS,
    ]);
    return row !== undefined;
  }

  file(): Promise<string | undefined> {
    return this.store.file(this.spaceId);
  }

  async remove(): Promise<void> {
    this.writes.abandon('recording removed', true);
    await this.flushed();
    const id = this.spaceId;
    // The file's row first: segments a failure leaves behind are then unfinished, and the next start
    // deletes them (Broadcaster.finishUnfinished).
    for (const table of ['recordings', 'recording_chunks', 'recording_segments', 'recording_inits']) {
      await this.store.query(`DELETE FROM ${table} WHERE space_id = $1`, [id]);
    }
    this.store.forget(id);
    await fsp.rm(this.store.cachePath(id), { force: true });
  }

  /**
   * Runs an insert whose `%SELECT%` is filled with its values — from the space's row, locked for share
   * and only at the writer's epoch, when there is a fence. Refused (no row) means stale_owner.
   */
  private async fenced(sql: string, params: unknown[]): Promise<void> {
    const c = this.store.pool;
    const values = params.map((_, i) => `$${i + 1}`).join(', ');
    if (!this.fence) {
      await c.query(sql.replace('%SELECT%', `VALUES (${values})`), params);
      return;
    }
    const epoch = `$${params.length + 1}`;
    const result = await c.query(
      sql.replace('%SELECT%', `SELECT ${values} FROM spaces WHERE id = $1 AND owner_epoch = ${epoch} FOR SHARE`),
      [...params, this.fence.epoch],
    );
    if (result.rowCount === 0) {
      const [row] = (await c.query('SELECT owner_epoch FROM spaces WHERE id = $1', [this.spaceId])).rows as Row[];
      throw staleOwner(this.spaceId, this.fence, (row?.owner_epoch as number | undefined) ?? -1);
    }
  }
}

function toInfo(r: Row): RecordingInfo {
  return { duration: r.duration as number, bytes: r.bytes as number, createdAt: r.created_at as number };
}

/** Every node's copy of a file carries the time it was made: the same Last-Modified and ETag whichever node serves it. */
async function stamp(file: string, info: RecordingInfo): Promise<void> {
  const made = new Date(info.createdAt);
  await fsp.utimes(file, made, made);
}
