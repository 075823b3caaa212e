/**
 * SpaceRegistry: the LiveSpaces this node holds, loaded from the SpaceStore on first use.
 * Concurrent first uses of one space share a single load.
 */
import { fail } from '../errors.js';
import type { SpaceId } from '../ids.js';
import type { SpaceStore } from '../store/space-store.js';
import { LiveSpace } from './live-space.js';

export class SpaceRegistry {
  private readonly spaces = new Map<SpaceId, LiveSpace>();
  private readonly loading = new Map<SpaceId, Promise<LiveSpace | undefined>>();

  constructor(private readonly store: SpaceStore) {}

  /** The space if it is already in memory; the join hot path uses this first. */
  peek(id: SpaceId): LiveSpace | undefined {
    return this.spaces.get(id);
  }

  async find(id: SpaceId): Promise<LiveSpace | undefined> {
    const held = this.spaces.get(id);
    if (held) return held;
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.store
        .loadSpace(id)
        .then((snapshot) => {
          if (!snapshot) return undefined;
          const live = this.spaces.get(id) ?? new LiveSpace(snapshot);
          this.spaces.set(id, live);
          return live;
        })
        .finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** The space, or a coded 404. */
  async get(id: SpaceId): Promise<LiveSpace> {
    const live = await this.find(id);
    if (!live) throw fail('space_not_found');
    return live;
  }

  /**
   * Reloads a held space's copy from the store, under its lock (commands queued after it see the
   * fresh copy); keeps the copy when the store does not answer. A space not held is loaded on its
   * next use anyway.
   */
  async refresh(id: SpaceId): Promise<LiveSpace | undefined> {
    const live = this.spaces.get(id);
    if (!live) return this.find(id);
    await live.locked(async () => {
      const snapshot = await this.store.loadSpace(id);
      if (snapshot) live.reset(snapshot);
    });
    return live;
  }

  /** Lets go of a space (an ended one, once its tallies are kept); the next use reloads it. */
  evict(id: SpaceId): void {
    this.spaces.delete(id);
  }

  add(live: LiveSpace): void {
    this.spaces.set(live.space.id, live);
  }

  all(): IterableIterator<LiveSpace> {
    return this.spaces.values();
  }
}
