/**
 * Stage seats of connections that died are freed (issue 25). A stage has ten speaker seats; before,
 * a speaker whose phone died, or who took a seat and never connected, held theirs until the host
 * noticed and moved them by hand. On the node that runs a space, a speaker without a stage socket
 * for the grace period (ROSTRUM_STAGE_GRACE_MS, 60 s: a reload, a network change or a switch of
 * device reconnects well within it) is moved to the audience as a host would — written to the
 * moderation log as done by `seat-keeper`, the stage told by the same events — and may ask to speak
 * again. Hosts and co-hosts keep their places: theirs are roles the host gave, not only seats.
 */
import type { Logger } from 'pino';
import type { Bus, Disposer } from '../bus/bus.js';
import type { Actor } from '../control/actor.js';
import type { SpaceRegistry } from '../control/space-registry.js';
import type { TokenClaims } from '../control/tokens.js';
import type { Identity, SpaceId } from '../ids.js';

const IDENTITY = 'seat-keeper' as Identity;
/** Acts with the host's powers, as an operator does; its moves are logged under its name. */
export const SEAT_KEEPER: Actor = {
  identity: IDENTITY,
  name: 'Seat keeper',
  operator: true,
  claims: { iss: 'rostrum', sub: IDENTITY, iat: 0, exp: 0, operator: true } as TokenClaims,
};

export interface SeatKeeperDeps {
  registry: SpaceRegistry;
  bus: Bus;
  /** Whether the identity holds a stage socket in the space now. */
  present: (id: SpaceId, identity: Identity) => boolean;
  /** Whether this node runs the space (only its owner frees seats). */
  owns: (id: SpaceId) => boolean;
  /** Moves a speaker to the audience (StageService.moveToAudience as SEAT_KEEPER). */
  move: (id: SpaceId, identity: Identity) => Promise<void>;
  log: Logger;
}

export class SeatKeeper {
  private readonly timers = new Map<SpaceId, Map<Identity, NodeJS.Timeout>>();
  private readonly disposers: Disposer[];
  /** Seats freed (metrics). */
  freed = 0;

  constructor(
    private readonly graceMs: number,
    private readonly deps: SeatKeeperDeps,
  ) {
    this.disposers = [
      deps.bus.subscribe('stage.changed', ({ spaceId }) => this.check(spaceId)),
      deps.bus.subscribe('space.ended', ({ spaceId }) => this.forget(spaceId)),
    ];
  }

  /** An identity's stage sockets in a space came (the first) or went (the last). */
  presence(id: SpaceId, identity: Identity, present: boolean): void {
    if (present) this.disarm(id, identity);
    else this.check(id);
  }

  /** Loads a live space (at start) and looks at its speakers: each reconnects within the grace period, or its seat is freed. */
  async watch(id: SpaceId): Promise<void> {
    try {
      await this.deps.registry.get(id);
      this.check(id);
    } catch (err) {
      this.deps.log.warn({ err, spaceId: id }, 'could not load a live space to watch its seats');
    }
  }

  /** Looks at a space's speakers: each without a socket gets its grace period; each with one, or gone, none. */
  check(id: SpaceId): void {
    if (this.graceMs <= 0 || !this.deps.owns(id)) return;
    const live = this.deps.registry.peek(id);
    if (live?.space.state !== 'live') {
      this.forget(id);
      return;
    }
    const speakers = new Set(
      live
        .stageList()
        .filter((m) => m.role === 'speaker')
        .map((m) => m.identity),
    );
    for (const identity of this.timers.get(id)?.keys() ?? []) if (!speakers.has(identity)) this.disarm(id, identity);
    for (const identity of speakers) if (!this.deps.present(id, identity)) this.arm(id, identity);
  }

  close(): void {
    for (const dispose of this.disposers) dispose();
    for (const id of [...this.timers.keys()]) this.forget(id);
  }

  private arm(id: SpaceId, identity: Identity): void {
    let space = this.timers.get(id);
    if (space?.has(identity)) return;
    if (!space) {
      space = new Map();
      this.timers.set(id, space);
    }
    const timer = setTimeout(() => void this.expire(id, identity), this.graceMs);
    timer.unref();
    space.set(identity, timer);
  }

  private disarm(id: SpaceId, identity: Identity): void {
    const space = this.timers.get(id);
    const timer = space?.get(identity);
    if (!space || !timer) return;
    clearTimeout(timer);
    space.delete(identity);
    if (space.size === 0) this.timers.delete(id);
  }

  private forget(id: SpaceId): void {
    for (const timer of this.timers.get(id)?.values() ?? []) clearTimeout(timer);
    this.timers.delete(id);
  }

  private async expire(id: SpaceId, identity: Identity): Promise<void> {
    this.timers.get(id)?.delete(identity);
    const live = this.deps.registry.peek(id);
    if (!this.deps.owns(id) || live?.space.state !== 'live' || live.roleOf(identity) !== 'speaker' || this.deps.present(id, identity))
      return;
    try {
      await this.deps.move(id, identity);
      this.freed++;
      this.deps.log.info(
        { spaceId: id, identity, graceMs: this.graceMs },
        'a speaker without a connection was moved to the audience; their seat is free',
      );
    } catch (err) {
      this.deps.log.warn({ err, spaceId: id, identity }, 'could not free the seat of a speaker without a connection; trying again');
      this.check(id);
    }
  }
}
