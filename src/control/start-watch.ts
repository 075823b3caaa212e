/**
 * The scheduled spaces a node watches for their start time, behind one timer: loaded from the store
 * when the node starts (a time that passed while no node ran comes due at once) and kept current by
 * the spaces' own events (created, updated, live, ended; scaled out, other nodes' changes arrive
 * through the read views). Auto-start (auto-start.ts) and the reminders' clock
 * (webhooks/reminder-clock.ts) each keep one, with their own choice of spaces.
 */
import type { Bus, Disposer } from '../bus/bus.js';
import type { SpaceId } from '../ids.js';
import type { Space } from './model.js';

/** setTimeout's longest wait; a later time is reached in steps. */
const LONGEST_WAIT_MS = 2 ** 31 - 1;

export interface StartWatchHandlers {
  /** Which scheduled spaces to watch (a scheduled start is always needed). */
  wants(space: Space): boolean;
  /** Its time came (it is no longer watched; `retry` puts it back). */
  due(space: Space, now: number): void;
  /** It went live before its time came (the host pressed Go live). */
  wentLive?(space: Space): void;
}

export class StartWatch {
  private readonly due = new Map<SpaceId, Space>();
  private timer: NodeJS.Timeout | undefined;
  private readonly disposers: Disposer[];
  private closed = false;

  constructor(
    bus: Bus,
    private readonly handlers: StartWatchHandlers,
    private readonly now: () => number = Date.now,
  ) {
    const follow = ({ space }: { space: Space }) => this.follow(space);
    this.disposers = [
      bus.subscribe('space.created', follow),
      bus.subscribe('space.updated', follow),
      bus.subscribe('space.live', ({ spaceId }) => {
        const space = this.due.get(spaceId);
        this.forget(spaceId);
        if (space) this.handlers.wentLive?.(space);
      }),
      bus.subscribe('space.ended', ({ spaceId }) => this.forget(spaceId)),
    ];
  }

  /** Starts watching these (the store's scheduled spaces, at start). */
  load(spaces: readonly Space[]): void {
    for (const space of spaces) this.follow(space, false);
    this.arm();
  }

  /** When the next watched space is due (epoch ms), if any. */
  next(): number | undefined {
    let first: number | undefined;
    for (const space of this.due.values()) if (first === undefined || space.scheduledStart! < first) first = space.scheduledStart!;
    return first;
  }

  /** Watches a space that came due again, `afterMs` from now (its handling failed for a while). */
  retry(space: Space, afterMs: number): void {
    if (this.closed) return;
    this.due.set(space.id, space);
    setTimeout(() => this.arm(), afterMs).unref();
  }

  private follow(space: Space, arm = true): void {
    if (space.state === 'scheduled' && space.scheduledStart !== null && this.handlers.wants(space)) this.due.set(space.id, space);
    else this.due.delete(space.id);
    if (arm) this.arm();
  }

  private forget(id: SpaceId): void {
    this.due.delete(id);
    this.arm();
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
    for (const space of [...this.due.values()]) {
      if (space.scheduledStart! > now) continue;
      this.due.delete(space.id);
      this.handlers.due(space, now);
    }
    this.arm();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const dispose of this.disposers) dispose();
  }
}
