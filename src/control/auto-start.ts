/**
 * Auto-start: a space created with `autoStart` goes live by itself at its `scheduledStart`. Every node
 * keeps the upcoming ones behind one timer — loaded from the store when it starts (so a space that
 * came due while the node was down goes live at once, if it is at most MAX_LATE_MS late) and kept
 * current by the spaces' own events (created, updated, live, ended; scaled out, other nodes' changes
 * arrive through the read views). When one comes due, the node that runs it starts it: scaled out,
 * `ownerOf` names the node (taking it if this node ranks first), and the others leave it to that node.
 * The start is the host's Go live, logged as done by `auto-start`.
 */
import type { Logger } from 'pino';
import type { Bus, Disposer } from '../bus/bus.js';
import type { RostrumError } from '../errors.js';
import type { Identity, SpaceId } from '../ids.js';
import type { Actor } from './actor.js';
import type { Space } from './model.js';
import type { SpaceService } from './space-service.js';
import type { TokenClaims } from './tokens.js';

/** A space whose time passed longer ago than this (the node was down) is not started: its host decides. */
export const MAX_LATE_MS = 10 * 60_000;
/** A start that failed for want of an engine is tried again this much later. */
const RETRY_MS = 1000;
/** setTimeout's longest wait; a later time is reached in steps. */
const LONGEST_WAIT_MS = 2 ** 31 - 1;

const IDENTITY = 'auto-start' as Identity;
const ACTOR: Actor = {
  identity: IDENTITY,
  name: 'Auto-start',
  operator: true,
  claims: { iss: 'rostrum', sub: IDENTITY, iat: 0, exp: 0, operator: true } as TokenClaims,
};

export class AutoStarter {
  private readonly due = new Map<SpaceId, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly disposers: Disposer[];
  private closed = false;

  constructor(
    private readonly spaces: SpaceService,
    bus: Bus,
    /** Whether this node is the one to start the space (it runs it, or takes it). */
    private readonly runsHere: (id: SpaceId) => Promise<boolean>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const follow = ({ space }: { space: Space }) => this.follow(space);
    const drop = ({ spaceId }: { spaceId: SpaceId }) => {
      this.due.delete(spaceId);
      this.arm();
    };
    this.disposers = [
      bus.subscribe('space.created', follow),
      bus.subscribe('space.updated', follow),
      bus.subscribe('space.live', drop),
      bus.subscribe('space.ended', drop),
    ];
  }

  /** Loads the scheduled spaces that start by themselves. */
  async start(): Promise<void> {
    const scheduled = await this.spaces.list({ states: ['scheduled'], limit: 10_000 });
    for (const space of scheduled) this.follow(space, false);
    this.arm();
  }

  /** When the next space is due (epoch ms), if any (tests, the host console). */
  next(): number | undefined {
    let first: number | undefined;
    for (const at of this.due.values()) if (first === undefined || at < first) first = at;
    return first;
  }

  private follow(space: Space, arm = true): void {
    if (space.state === 'scheduled' && space.autoStart && space.scheduledStart !== null) this.due.set(space.id, space.scheduledStart);
    else this.due.delete(space.id);
    if (arm) this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.next();
    if (next === undefined || this.closed) return;
    this.timer = setTimeout(() => this.fire(), Math.min(LONGEST_WAIT_MS, Math.max(0, next - this.now())));
    this.timer.unref();
  }

  private fire(): void {
    const now = this.now();
    for (const [id, at] of [...this.due]) {
      if (at > now) continue;
      this.due.delete(id);
      if (now - at > MAX_LATE_MS) {
        this.log.warn(
          { spaceId: id, scheduledStart: new Date(at).toISOString() },
          'auto-start: the time passed while no node ran; left to the host',
        );
        continue;
      }
      void this.startOne(id, at);
    }
    this.arm();
  }

  private async startOne(id: SpaceId, at: number): Promise<void> {
    try {
      if (!(await this.runsHere(id))) return;
      await this.spaces.start(ACTOR, id);
      this.log.info({ spaceId: id, lateMs: this.now() - at }, 'auto-start: the space went live at its time');
    } catch (err) {
      const code = (err as RostrumError).code;
      if (code === 'space_already_live' || code === 'space_ended' || code === 'space_not_found') return;
      this.log.warn({ err, spaceId: id }, 'auto-start: could not start the space; trying again');
      if (!this.closed) {
        this.due.set(id, at);
        setTimeout(() => this.arm(), RETRY_MS).unref();
      }
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const dispose of this.disposers) dispose();
  }
}
