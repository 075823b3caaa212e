/**
 * How this node takes spaces up and lets them go. A space it takes (at start, on a request, or from
 * a node that stopped or died) is reloaded from the store and, when live, goes on air here with its
 * seats watched; one it lets go stops here. A space that went live anywhere is placed at once by the
 * node its ranking names. At start, the embedded default puts the spaces that were live when it last
 * stopped back on air (scaled out, ownership's scan does), and every node makes the recording files
 * that could not be made before it stopped.
 */
import type { Logger } from 'pino';
import type { Broadcaster } from '../broadcast/broadcaster.js';
import type { Bus } from '../bus/bus.js';
import type { SpaceRegistry } from '../control/space-registry.js';
import type { SpaceService } from '../control/space-service.js';
import type { SeatKeeper } from '../stage/seat-keeper.js';
import type { SignallingHub } from '../stage/signalling-hub.js';
import type { SpaceStore } from '../store/space-store.js';
import type { Ownership } from './ownership.js';
import type { ChangeFeed } from './read-views.js';

export interface PlacementDeps {
  ownership: Ownership;
  registry: SpaceRegistry;
  spaces: SpaceService;
  store: SpaceStore;
  broadcaster: Broadcaster;
  seats: SeatKeeper;
  hub: SignallingHub;
  feed: ChangeFeed;
  bus: Bus;
  log: Logger;
}

/** Follows ownership's changes for as long as the node runs. */
export function followPlacement(d: PlacementDeps): void {
  d.ownership.onAcquired((id) => {
    void d.registry
      .refresh(id)
      .then((live) => {
        if (live?.space.state === 'live' && d.ownership.owns(id)) void d.broadcaster.start(id);
        d.seats.check(id);
      })
      .catch((err: unknown) => d.log.error({ err, spaceId: id }, 'could not load a space this node took'));
  });
  d.bus.subscribe('space.live', ({ spaceId }) => {
    if (!d.ownership.owns(spaceId))
      d.ownership.ownerOf(spaceId).catch((err: unknown) => d.log.warn({ err, spaceId }, 'could not place a space that went live'));
  });
  d.ownership.onReleased((id) => {
    d.log.warn({ spaceId: id }, 'this node no longer runs the space');
    d.feed.forget(id);
    d.hub.released(id);
    void d.broadcaster.release(id);
    d.registry.evict(id);
  });
}

/** What a node takes up again at start. */
export async function resumeAtStart(d: PlacementDeps): Promise<void> {
  if (d.ownership.kind === 'local') {
    for (const space of await d.spaces.list({ states: ['live'], limit: 10_000 })) {
      void d.broadcaster.start(space.id);
      void d.seats.watch(space.id); // its speakers reconnect within the grace period, or their seats are freed
    }
  }
  void d.broadcaster
    .finishUnfinished(async (id) => {
      const space = (await d.store.loadSpace(id))?.space;
      return space?.state === 'ended' ? { recording: space.recording, trim: space.replayTrim } : undefined;
    })
    .catch((err: unknown) => d.log.error({ err }, 'could not look for recordings without a file'));
}
