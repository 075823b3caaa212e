/**
 * Ownership on Redis: each space's owner holds a lease, `rostrum:owner:<space>` = "<node>|<epoch>",
 * that lapses after `leaseMs` unless renewed (every `renewMs`). The epoch comes from the store
 * (`claim` raises it), so the store — not Redis — is the fencing authority: a node paused past its
 * lease that wakes up and writes is refused there (`stale_owner`), whatever Redis says.
 *
 * Taking a space: SET NX a placeholder lease first, then claim the epoch in the store, then write the
 * epoch into the lease. Two nodes racing never both claim (only the NX winner does), and an owner
 * re-asserting its lease after a Redis restart is never pre-empted by a claim it did not see.
 *
 * Who takes a space nobody holds: the first live node in its rendezvous ranking. Every node lists the
 * live spaces every `scanMs` and takes those it ranks first for whose lease is gone (their owner died
 * or stopped); a request for a space nobody holds names the ranking's first node, which takes it on
 * that request. Leases are sticky: a node that joins later does not take live spaces from a healthy
 * owner (moving a broadcast costs listeners a gap).
 *
 * Liveness: `rostrum:nodes` is a sorted set of node ids scored by when their registration lapses
 * (renewed with the leases), `rostrum:node-urls` their addresses.
 *
 * Redis away: nobody can take anything, so every owner keeps what it holds (the spaces stay on the
 * air) and a request for a space not held here is refused with cluster_unavailable. When Redis is
 * back (possibly empty, after a restart without persistence), owners re-assert their leases as soon as
 * they reconnect, and nobody takes an unheld space for two lease periods plus a reconnect's longest
 * backoff, so re-asserting wins.
 */
import type { Redis } from 'ioredis';
import type { Disposer } from '../bus/bus.js';
import { fail, RostrumError } from '../errors.js';
import type { SpaceId } from '../ids.js';
import type { Fence, SpaceStore } from '../store/space-store.js';
import type { NodeInfo } from './node-identity.js';
import { Handlers, type Ownership, rank } from './ownership.js';
import { waitReady } from './redis-connection.js';

export interface RedisOwnershipOptions {
  /** How long a lease (and a node's registration) lasts unrenewed, ms. Default 2000. */
  leaseMs?: number;
  /** How often leases are renewed and the live nodes read, ms. Default 500. */
  renewMs?: number;
  /** How often the live spaces are scanned for ones nobody holds, ms. Default 500. */
  scanMs?: number;
  /** Key prefix. Default rostrum: */
  prefix?: string;
  /** Something went wrong that is not an outage (logged by the server). */
  onError?: (err: unknown, what: string) => void;
}

/** Renews the lease if it is ours; sets it again if it is gone (Redis restarted empty); 0 if another node holds it. */
const RENEW = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;

/** How long an owner read from Redis is trusted without asking again, ms. */
const KNOWN_FOR_MS = 500;

/** Deletes the lease only if it is ours. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

type Store = Pick<SpaceStore, 'claim' | 'listSpaces'>;

export class RedisOwnership implements Ownership {
  readonly kind = 'redis';
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly scanMs: number;
  private readonly prefix: string;
  private readonly onError: (err: unknown, what: string) => void;
  /** The spaces held here, with the epoch each was claimed with. */
  private readonly held = new Map<SpaceId, Fence>();
  private readonly taking = new Map<SpaceId, Promise<NodeInfo>>();
  /** The owner each space had when this node last asked (what it goes by while Redis is away). */
  private readonly lastKnown = new Map<SpaceId, { node: string; at: number }>();
  private readonly acquired = new Handlers<[SpaceId, Fence | undefined]>();
  private readonly released = new Handlers<[SpaceId]>();
  private live: NodeInfo[];
  /** When the last renewal round reached Redis (a lease older than leaseMs may have gone to another node). */
  private renewedAt = 0;
  /** Redis came back at this time after being away: no take-overs until two leases later. */
  private backAt = 0;
  private away = false;
  private renewTimer: NodeJS.Timeout | undefined;
  private scanTimer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> | undefined;
  private scanning: Promise<void> | undefined;
  private closed = false;

  constructor(
    readonly node: NodeInfo,
    private readonly redis: Redis,
    private readonly store: Store,
    options: RedisOwnershipOptions = {},
  ) {
    this.leaseMs = options.leaseMs ?? 2000;
    this.renewMs = options.renewMs ?? 500;
    this.scanMs = options.scanMs ?? 500;
    this.prefix = options.prefix ?? 'rostrum:';
    this.onError = options.onError ?? (() => {});
    this.live = [node];
  }

  private ownerKey(id: SpaceId): string {
    return `${this.prefix}owner:${id}`;
  }

  private leaseValue(fence: Fence): string {
    return `${fence.node}|${fence.epoch}`;
  }

  async start(): Promise<void> {
    // Back from an outage: re-assert the leases held at once, not at the next tick.
    this.redis.on('ready', () => {
      if (!this.closed) void this.renewNow();
    });
    await waitReady(this.redis);
    await this.renew();
    this.renewTimer = setInterval(() => void this.renewNow(), this.renewMs);
    this.renewTimer.unref();
    this.scanTimer = setInterval(() => {
      this.scanning ??= this.scan().finally(() => {
        this.scanning = undefined;
      });
    }, this.scanMs);
    this.scanTimer.unref();
  }

  owns(id: SpaceId): boolean {
    return this.held.has(id);
  }

  fence(id: SpaceId): Fence | undefined {
    return this.held.get(id);
  }

  owned(): SpaceId[] {
    return [...this.held.keys()];
  }

  nodes(): NodeInfo[] {
    return this.live.map((n) => ({ ...n }));
  }

  onAcquired(handler: (id: SpaceId, fence: Fence | undefined) => void): Disposer {
    return this.acquired.add(handler);
  }

  onReleased(handler: (id: SpaceId) => void): Disposer {
    return this.released.add(handler);
  }

  lost(id: SpaceId): void {
    if (!this.held.delete(id)) return;
    this.released.emit(id);
  }

  async release(id: SpaceId): Promise<void> {
    const fence = this.held.get(id);
    if (!fence) return;
    this.held.delete(id);
    this.released.emit(id);
    await this.redis.eval(RELEASE, 1, this.ownerKey(id), this.leaseValue(fence)).catch(() => undefined);
  }

  async ownerOf(id: SpaceId, options: { forwarded?: boolean } = {}): Promise<NodeInfo> {
    if (this.held.has(id)) return this.node;
    const known = this.lastKnown.get(id);
    const knownNode = known && this.live.find((n) => n.id === known.node);
    // Asked a moment ago (every forwarded request asks): no Redis round trip.
    if (knownNode && Date.now() - known.at < KNOWN_FOR_MS) return knownNode;
    let value: string | null;
    try {
      value = await this.redis.get(this.ownerKey(id));
    } catch {
      // Redis away: nobody can take a space over meanwhile, so the owner last seen still runs it.
      if (knownNode) return knownNode;
      throw fail('cluster_unavailable', undefined, 1);
    }
    if (value) {
      const owner = value.slice(0, value.lastIndexOf('|'));
      if (owner === this.node.id) return this.node; // a take-over of ours still completing
      this.remember(id, owner);
      return this.live.find((n) => n.id === owner) ?? (await this.nodeInfo(owner));
    }
    // A request another node sent here is taken here, whatever this node's ranking says: two nodes
    // whose views of the live nodes differ for a moment must not send it back and forth.
    const first = rank(
      id,
      this.live.map((n) => n.id),
    )[0];
    if (!options.forwarded && first !== undefined && first !== this.node.id) return this.live.find((n) => n.id === first)!;
    return this.take(id);
  }

  /** Takes a space nobody holds (one attempt at a time per space); the owner it ended with. */
  private take(id: SpaceId): Promise<NodeInfo> {
    let pending = this.taking.get(id);
    if (!pending) {
      pending = this.takeOnce(id).finally(() => this.taking.delete(id));
      this.taking.set(id, pending);
    }
    return pending;
  }

  private async takeOnce(id: SpaceId): Promise<NodeInfo> {
    const key = this.ownerKey(id);
    const placeholder = `${this.node.id}|0`;
    let won: 'OK' | null;
    try {
      won = await this.redis.set(key, placeholder, 'PX', this.leaseMs, 'NX');
    } catch {
      throw fail('cluster_unavailable', undefined, 1);
    }
    if (won !== 'OK') {
      // Another node took it in between: name it.
      const value = await this.redis.get(key).catch(() => null);
      const owner = value ? value.slice(0, value.lastIndexOf('|')) : undefined;
      if (!owner) throw fail('cluster_unavailable', undefined, 1);
      return this.live.find((n) => n.id === owner) ?? (await this.nodeInfo(owner));
    }
    let epoch: number;
    try {
      epoch = await this.store.claim(id, this.node.id);
    } catch (err) {
      await this.redis.eval(RELEASE, 1, key, placeholder).catch(() => undefined);
      throw err;
    }
    const fence = { node: this.node.id, epoch };
    try {
      await this.redis.set(key, this.leaseValue(fence), 'PX', this.leaseMs, 'XX');
    } catch {
      // The placeholder stands (it names this node) until the next renewal rewrites it.
    }
    this.held.set(id, fence);
    this.acquired.emit(id, fence);
    return this.node;
  }

  private remember(id: SpaceId, owner: string): void {
    this.lastKnown.delete(id); // most recent last, so the oldest go first
    this.lastKnown.set(id, { node: owner, at: Date.now() });
    if (this.lastKnown.size > 100_000) this.lastKnown.delete(this.lastKnown.keys().next().value as SpaceId);
  }

  private async nodeInfo(id: string): Promise<NodeInfo> {
    const url = await this.redis.hget(`${this.prefix}node-urls`, id).catch(() => null);
    if (!url) throw fail('cluster_unavailable', `The node that owns this space (${id}) is not reachable now; retry.`, 1);
    return { id, url };
  }

  /** Runs a renewal round now (the timer's job; a test that paused a node resumes it with this). */
  renewNow(): Promise<void> {
    this.renewing ??= this.renew().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  /** One round: register this node, renew every lease held, read the live nodes. */
  private async renew(): Promise<void> {
    const now = Date.now();
    const ids = [...this.held.keys()];
    const sent = ids.map((id) => this.held.get(id)!);
    const pipeline = this.redis.pipeline();
    pipeline.zadd(`${this.prefix}nodes`, now + this.leaseMs, this.node.id);
    pipeline.hset(`${this.prefix}node-urls`, this.node.id, this.node.url);
    pipeline.zremrangebyscore(`${this.prefix}nodes`, '-inf', now - 60_000);
    for (const [i, id] of ids.entries()) pipeline.eval(RENEW, 1, this.ownerKey(id), this.leaseValue(sent[i]!), this.leaseMs);
    pipeline.zrangebyscore(`${this.prefix}nodes`, now, '+inf');
    pipeline.hgetall(`${this.prefix}node-urls`);
    let results: [Error | null, unknown][] | null;
    try {
      results = await pipeline.exec();
    } catch {
      results = null;
    }
    if (!results || results.some(([err]) => err)) {
      // Redis away: keep every lease held (nobody can take them either).
      if (!this.away) this.away = true;
      return;
    }
    if (this.away) {
      this.away = false;
      this.backAt = Date.now();
    }
    this.renewedAt = now;
    ids.forEach((id, i) => {
      const [, renewed] = results![3 + i]!;
      // Another node holds it now (this one was paused or cut off past its lease): let it go.
      if (renewed === 0 && this.held.get(id) === sent[i]) this.lost(id);
    });
    const liveIds = results[3 + ids.length]![1] as string[];
    const urls = results[4 + ids.length]![1] as Record<string, string>;
    this.live = liveIds.filter((id) => urls[id]).map((id) => ({ id, url: urls[id]! }));
    if (!this.live.some((n) => n.id === this.node.id)) this.live.push(this.node);
  }

  /** Takes the live spaces nobody holds that this node ranks first for (their owner died or stopped). */
  private async scan(): Promise<void> {
    // After an outage, owners get two leases plus a reconnect's longest backoff to re-assert first.
    if (this.away || Date.now() - this.backAt < 2 * this.leaseMs + 2500 || Date.now() - this.renewedAt > this.leaseMs) return;
    let spaces: SpaceId[];
    try {
      spaces = (await this.store.listSpaces({ states: ['live'], limit: 10_000 })).map((s) => s.id);
    } catch {
      return; // the store away: nothing can be claimed now either
    }
    const candidates = spaces.filter(
      (id) =>
        !this.held.has(id) &&
        rank(
          id,
          this.live.map((n) => n.id),
        )[0] === this.node.id,
    );
    if (candidates.length === 0) return;
    let leases: (string | null)[];
    try {
      leases = await this.redis.mget(candidates.map((id) => this.ownerKey(id)));
    } catch {
      return;
    }
    for (const [i, id] of candidates.entries()) {
      if (leases[i] || this.closed) continue;
      await this.take(id).catch((err: unknown) => {
        if (!(err instanceof RostrumError && err.code === 'cluster_unavailable')) this.onError(err, `taking space ${id}`);
      });
    }
  }

  /**
   * Stops. Handing over (the default) deletes this node's leases and registration so the next node in
   * each ranking takes its spaces at its next scan; without, the leases lapse by themselves, as a
   * crashed node's do.
   */
  async close(options: { handOver?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.renewTimer);
    clearInterval(this.scanTimer);
    await this.renewing;
    await this.scanning;
    await Promise.allSettled([...this.taking.values()]);
    const held = [...this.held.entries()];
    this.held.clear();
    for (const [id] of held) this.released.emit(id);
    if (options.handOver === false) return;
    // Hand over: delete our leases and our registration, so the next node in each ranking takes them at its next scan.
    const pipeline = this.redis.pipeline();
    for (const [id, fence] of held) pipeline.eval(RELEASE, 1, this.ownerKey(id), this.leaseValue(fence));
    pipeline.zrem(`${this.prefix}nodes`, this.node.id);
    pipeline.hdel(`${this.prefix}node-urls`, this.node.id);
    await pipeline.exec().catch(() => undefined);
  }
}
