/**
 * Auto-start: a space created with `autoStart` goes live by itself at its `scheduledStart`. Every node
 * watches the upcoming ones (start-watch.ts: a space that came due while the node was down goes live
 * at once, if it is at most MAX_LATE_MS late). When one comes due, the node that runs it starts it: scaled out,
 * `ownerOf` names the node (taking it if this node ranks first), and the others leave it to that node.
 * The start is the host's Go live, logged as done by `auto-start`.
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { RostrumError } from '../errors.js';
import type { Identity, SpaceId } from '../ids.js';
import type { Actor } from './actor.js';
import type { Space } from './model.js';
import type { SpaceService } from './space-service.js';
import { StartWatch } from './start-watch.js';
import type { TokenClaims } from './tokens.js';

/** A space whose time passed longer ago than this (the node was down) is not started: its host decides. */
export const MAX_LATE_MS = 10 * 60_000;
/** A start that failed for want of an engine is tried again this much later. */
const RETRY_MS = 1000;

const IDENTITY = 'auto-start' as Identity;
const ACTOR: Actor = {
  identity: IDENTITY,
  name: 'Auto-start',
  operator: true,
  claims: { iss: 'rostrum', sub: IDENTITY, iat: 0, exp: 0, operator: true } as TokenClaims,
};

export class AutoStarter {
  private readonly watch: StartWatch;

  constructor(
    private readonly spaces: SpaceService,
    bus: Bus,
    /** Whether this node is the one to start the space (it runs it, or takes it). */
    private readonly runsHere: (id: SpaceId) => Promise<boolean>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.watch = new StartWatch(
      bus,
      {
        wants: (space) => space.autoStart,
        due: (space, now) => {
          const at = space.scheduledStart!;
          if (now - at > MAX_LATE_MS) {
            this.log.warn(
              { spaceId: space.id, scheduledStart: new Date(at).toISOString() },
              'auto-start: the time passed while no node ran; left to the host',
            );
            return;
          }
          void this.startOne(space);
        },
      },
      now,
    );
  }

  /** Loads the scheduled spaces that start by themselves. */
  async start(): Promise<void> {
    this.watch.load(await this.spaces.list({ states: ['scheduled'], limit: 10_000 }));
  }

  /** When the next space is due (epoch ms), if any (tests, the host console). */
  next(): number | undefined {
    return this.watch.next();
  }

  private async startOne(space: Space): Promise<void> {
    const id = space.id;
    try {
      if (!(await this.runsHere(id))) return;
      await this.spaces.start(ACTOR, id);
      this.log.info({ spaceId: id, lateMs: this.now() - space.scheduledStart! }, 'auto-start: the space went live at its time');
    } catch (err) {
      const code = (err as RostrumError).code;
      if (code === 'space_already_live' || code === 'space_ended' || code === 'space_not_found') return;
      this.log.warn({ err, spaceId: id }, 'auto-start: could not start the space; trying again');
      this.watch.retry(space, RETRY_MS);
    }
  }

  close(): void {
    this.watch.close();
  }
}
