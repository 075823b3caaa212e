/**
 * reminder.due: when a scheduled space starts — at its scheduled time, or earlier if its host goes
 * live first — the identities that asked to be reminded are told to the operator's backend (which
 * sends the push notifications). Every node watches the scheduled spaces (loaded at start, kept by
 * the spaces' events, as auto-start.ts does); the node that runs a space writes its events. Their
 * ids are derived from the space, so a start seen twice (the time, then the go-live; a restart)
 * sends them once.
 */
import type { Logger } from 'pino';
import type { Bus, Disposer } from '../bus/bus.js';
import type { Space } from '../control/model.js';
import type { Identity, SpaceId } from '../ids.js';
import type { SpaceStore, StoreOp } from '../store/space-store.js';
import { remindersDue } from './events.js';

const LONGEST_WAIT_MS = 2 ** 31 - 1;
const PAGE = 5000;
const RETRY_MS = 2000;

export class ReminderClock {
  private readonly due = new Map<SpaceId, Space>();
  private timer: NodeJS.Timeout | undefined;
  private readonly disposers: Disposer[];
  private closed = false;

  constructor(
    private readonly store: SpaceStore,
    bus: Bus,
    private readonly runsHere: (id: SpaceId) => Promise<boolean>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const follow = ({ space }: { space: Space }) => this.follow(space);
    this.disposers = [
      bus.subscribe('space.created', follow),
      bus.subscribe('space.updated', follow),
      bus.subscribe('space.live', ({ spaceId }) => {
        const space = this.due.get(spaceId);
        this.due.delete(spaceId);
        this.arm();
        if (space) void this.send(space);
      }),
      bus.subscribe('space.ended', ({ spaceId }) => {
        this.due.delete(spaceId);
        this.arm();
      }),
    ];
  }

  /** Loads the scheduled spaces; those whose time passed while no node ran are sent now. */
  async start(): Promise<void> {
    for (const space of await this.store.listSpaces({ states: ['scheduled'], limit: 10_000 })) this.follow(space, false);
    this.arm();
  }

  private follow(space: Space, arm = true): void {
    if (space.state === 'scheduled' && space.scheduledStart !== null) this.due.set(space.id, space);
    else this.due.delete(space.id);
    if (arm) this.arm();
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    let next: number | undefined;
    for (const space of this.due.values())
      next = Math.min(next ?? Number.POSITIVE_INFINITY, space.scheduledStart ?? Number.POSITIVE_INFINITY);
    if (next === undefined || this.closed) return;
    this.timer = setTimeout(() => this.fire(), Math.min(LONGEST_WAIT_MS, Math.max(0, next - this.now())));
    this.timer.unref();
  }

  private fire(): void {
    const now = this.now();
    for (const space of [...this.due.values()]) {
      if ((space.scheduledStart ?? Number.POSITIVE_INFINITY) > now) continue;
      this.due.delete(space.id);
      void this.send(space);
    }
    this.arm();
  }

  private async send(space: Space): Promise<void> {
    try {
      if (!(await this.runsHere(space.id))) return;
      const identities: Identity[] = [];
      for (;;) {
        const page = await this.store.listReminders(space.id, PAGE, identities.length);
        identities.push(...page.map((r) => r.identity));
        if (page.length < PAGE) break;
      }
      if (identities.length === 0) return;
      const start = Math.min(space.scheduledStart ?? this.now(), this.now());
      const ops = remindersDue(space, start, identities, this.now()).map((event): StoreOp => ({ op: 'event.append', event }));
      await this.store.commit(space.id, ops);
      this.log.info({ spaceId: space.id, identities: identities.length }, 'reminders due: sent to the webhooks');
    } catch (err) {
      this.log.warn({ err, spaceId: space.id }, 'reminders due: could not write the events; trying again');
      if (!this.closed) setTimeout(() => void this.send(space), RETRY_MS).unref();
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const dispose of this.disposers) dispose();
  }
}
