/**
 * Keeps each live space's peak and total unique listener counts, and its reaction totals, with the
 * space, and a tally point (listeners now, reactions so far: the host's analytics) beside it: written
 * every `intervalMs` while it is live, and once more when it ends — after which the node lets go of
 * the ended space's counters and in-memory state (it reloads from the store if asked for again).
 */
import type { Bus, Disposer } from '../bus/bus.js';
import type { CommandRunner } from '../control/commands.js';
import type { SpaceId } from '../ids.js';
import type { AudienceService } from './audience-service.js';

export class TallyKeeper {
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: Disposer;

  constructor(
    private readonly runner: CommandRunner,
    private readonly audience: AudienceService,
    bus: Bus,
    intervalMs: number,
    private readonly onError: (err: unknown, spaceId: SpaceId) => void,
  ) {
    this.timer = setInterval(() => void this.flushAll(), intervalMs);
    this.timer.unref();
    this.unsubscribe = bus.subscribe('space.ended', ({ spaceId }) => {
      void this.flush(spaceId).then(() => {
        this.audience.forget(spaceId);
        this.runner.registry.evict(spaceId);
      });
    });
  }

  async flushAll(): Promise<void> {
    // Only the owner keeps a space's tallies (every other node would write the same numbers).
    const live = [...this.runner.registry.all()].filter((s) => s.space.state === 'live' && this.runner.ownership.owns(s.space.id));
    await Promise.all(live.map((s) => this.flush(s.space.id)));
  }

  async flush(id: SpaceId): Promise<void> {
    if (!this.runner.ownership.owns(id)) return; // its owner keeps them
    try {
      await this.runner.run(id, (live) => {
        const { peak, total } = this.audience.tallies(id);
        const peakListeners = Math.max(peak, live.space.peakListeners);
        const totalListeners = Math.max(total, live.space.totalListeners);
        const reactions = this.audience.reactionTotals(live);
        const unchanged =
          peakListeners === live.space.peakListeners &&
          totalListeners === live.space.totalListeners &&
          JSON.stringify(reactions) === JSON.stringify(live.space.reactions);
        // The point is of a live space: the end's last flush has no audience left to count.
        const point =
          live.space.state === 'live'
            ? [
                {
                  op: 'tally.append' as const,
                  tally: { at: Date.now(), listeners: this.audience.listeners(id), reactions: { ...reactions } },
                },
              ]
            : [];
        return {
          ops: [
            ...(unchanged ? [] : [{ op: 'space.update' as const, patch: { peakListeners, totalListeners, reactions: { ...reactions } } }]),
            ...point,
          ],
          events: [],
          result: undefined,
        };
      });
    } catch (err) {
      this.onError(err, id);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe();
    await this.flushAll();
  }
}
