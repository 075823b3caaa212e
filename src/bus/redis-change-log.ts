/**
 * The ChangeLog on a Redis Stream: owners XADD each change (capped at the last MAXLEN entries), every
 * node reads the stream with a blocking XREAD on a connection of its own, from where it joined, and
 * hands other nodes' entries to its followers in stream order (so in each owner's order).
 *
 * Redis away: appends are dropped at once and counted (commands are never queued offline: a writer
 * must not wait on an engine, and a backlog replayed minutes later would be worse than a reload);
 * the reader retries, and when it reads again it tells its followers there may be a gap, so they
 * reload their read views from the store.
 */
import type { Redis } from 'ioredis';
import { connectRedis } from '../cluster/redis-connection.js';
import type { Disposer } from './bus.js';
import type { ChangeEntry, ChangeLog } from './change-log.js';

export interface RedisChangeLogOptions {
  /** The stream's key. Default rostrum:changes. */
  stream?: string;
  /** Entries kept (approximately). Default 100,000: minutes of a busy cluster, far more than a follower lags. */
  maxLen?: number;
  /** A follower threw: reported here (logged and counted by the server), never swallowed. */
  onHandlerError?: (err: unknown) => void;
}

export class RedisChangeLog implements ChangeLog {
  readonly kind = 'redis';
  /** Entries that could not be appended (Redis away). */
  dropped = 0;
  private readonly writer: Redis;
  private readonly reader: Redis;
  private readonly stream: string;
  private readonly maxLen: number;
  private readonly onHandlerError: (err: unknown) => void;
  private readonly followers = new Set<{ entry: (e: ChangeEntry) => void; gap?: () => void }>();
  private closed = false;
  private reading: Promise<void> | undefined;

  constructor(
    url: string,
    private readonly node: string,
    options: RedisChangeLogOptions = {},
  ) {
    this.stream = options.stream ?? 'rostrum:changes';
    this.maxLen = options.maxLen ?? 100_000;
    this.onHandlerError =
      options.onHandlerError ??
      ((err) =>
        setImmediate(() => {
          throw err;
        }));
    this.writer = connectRedis(url, `rostrum:${node}:changes`);
    this.reader = connectRedis(url, `rostrum:${node}:changes-reader`);
  }

  append(entry: ChangeEntry): void {
    if (this.closed) return;
    this.writer.xadd(this.stream, 'MAXLEN', '~', this.maxLen, '*', 'e', JSON.stringify(entry)).catch(() => {
      this.dropped++;
    });
  }

  follow(handler: (entry: ChangeEntry) => void, onGap?: () => void): Disposer {
    const follower = { entry: handler, ...(onGap ? { gap: onGap } : {}) };
    this.followers.add(follower);
    this.reading ??= this.read();
    return () => this.followers.delete(follower);
  }

  /** Resolves once the reader is in place: entries appended after this reach the followers. */
  async ready(): Promise<void> {
    this.reading ??= this.read();
    while (!this.closed && this.lastId === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  healthy(): boolean {
    return this.writer.status === 'ready';
  }

  private lastId: string | undefined;

  private async read(): Promise<void> {
    let away = false;
    while (!this.closed) {
      try {
        // Where the stream ends now: entries from here on are new to this node.
        if (this.lastId === undefined) {
          const last = (await this.reader.xrevrange(this.stream, '+', '-', 'COUNT', 1))[0];
          this.lastId = last ? last[0] : '0-0';
        }
        const answer = await this.reader.xread('COUNT', 500, 'BLOCK', 1000, 'STREAMS', this.stream, this.lastId);
        if (away) {
          away = false;
          for (const f of [...this.followers]) f.gap?.();
        }
        for (const [, entries] of answer ?? []) {
          for (const [id, fields] of entries) {
            this.lastId = id;
            const entry = JSON.parse(fields[1] ?? '{}') as ChangeEntry;
            if (entry.node === this.node) continue;
            for (const f of [...this.followers]) this.deliver(f.entry, entry);
          }
        }
      } catch {
        if (this.closed) return;
        away = true;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  private deliver(handler: (entry: ChangeEntry) => void, entry: ChangeEntry): void {
    try {
      handler(entry);
    } catch (err) {
      this.onHandlerError(err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.followers.clear();
    this.writer.disconnect();
    this.reader.disconnect();
    await this.reading;
  }
}
