/**
 * reminder.due: when a scheduled space starts — at its scheduled time, or earlier if its host goes
 * live first — the identities that asked to be reminded are told to the operator's backend (which
 * sends the push notifications). Every node watches the scheduled spaces (control/start-watch.ts, as
 * auto-start does); the node that runs a space writes its events. Their
 * ids are derived from the space, so a start seen twice (the time, then the go-live; a restart)
 * sends them once.
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Space } from '../control/model.js';
import { StartWatch } from '../control/start-watch.js';
import type { Identity, SpaceId } from '../ids.js';
import type { SpaceStore, StoreOp } from '../store/space-store.js';
import { remindersDue } from './events.js';

const PAGE = 5000;
const RETRY_MS = 2000;

export class ReminderClock {
  private readonly watch: StartWatch;
  private closed = false;

  constructor(
    private readonly store: SpaceStore,
    bus: Bus,
    private readonly runsHere: (id: SpaceId) => Promise<boolean>,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    const send = (space: Space) => void this.send(space);
    this.watch = new StartWatch(bus, { wants: () => true, due: send, wentLive: send }, now);
  }

  /** Loads the scheduled spaces; those whose time passed while no node ran are sent now. */
  async start(): Promise<void> {
    this.watch.load(await this.store.listSpaces({ states: ['scheduled'], limit: 10_000 }));
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
    this.watch.close();
  }
}
