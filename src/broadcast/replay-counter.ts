/**
 * The replay's plays and downloads, for the host's analytics: counted here as they are served —
 * a play is a fetch of an ended space's playlist without a position (a player starting), a download
 * a fetch of the recording from its first byte (a range request part-way is the same download
 * going on) — and added to the store's totals every few seconds, so every node's counts add up.
 * Behind a caching edge the origin sees only the edge's misses: count at the edge for those.
 */
import type { Logger } from 'pino';
import type { SpaceId } from '../ids.js';
import type { SpaceStore } from '../store/space-store.js';

export class ReplayCounter {
  private pending = new Map<SpaceId, { plays: number; downloads: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: SpaceStore,
    private readonly log: Logger,
    everyMs = 5000,
  ) {
    this.timer = setInterval(() => void this.flush(), everyMs);
    this.timer.unref();
  }

  play(id: SpaceId): void {
    this.entry(id).plays++;
  }

  download(id: SpaceId): void {
    this.entry(id).downloads++;
  }

  private entry(id: SpaceId): { plays: number; downloads: number } {
    let counts = this.pending.get(id);
    if (!counts) {
      counts = { plays: 0, downloads: 0 };
      this.pending.set(id, counts);
    }
    return counts;
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    for (const [id, { plays, downloads }] of batch) {
      try {
        await this.store.addReplayCounts(id, plays, downloads);
      } catch (err) {
        // Kept for the next flush: counts are not lost to a store that is away for a while.
        const counts = this.entry(id);
        counts.plays += plays;
        counts.downloads += downloads;
        this.log.warn({ err, spaceId: id }, 'could not add the replay counts; keeping them for the next try');
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
