/**
 * The in-process Bus. Handlers run synchronously in subscription order. A handler that throws is
 * never swallowed: the error goes to `onHandlerError` (logged and counted by the server), and in
 * tests `rethrow` makes it fail the publishing call.
 */
import type { Bus, Disposer } from './bus.js';
import type { EventHandler, EventName, RostrumEvents } from './events.js';

export interface LocalBusOptions {
  onHandlerError: (err: unknown, event: EventName) => void;
  /** Throw the handler's error out of publish() after reporting it. Default false. */
  rethrow?: boolean;
}

export class LocalBus implements Bus {
  private readonly handlers = new Map<EventName, Set<(payload: never) => void>>();

  constructor(private readonly options: LocalBusOptions) {}

  publish<K extends EventName>(name: K, payload: RostrumEvents[K]): void {
    const set = this.handlers.get(name);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as EventHandler<K>)(payload);
      } catch (err) {
        this.options.onHandlerError(err, name);
        if (this.options.rethrow) throw err;
      }
    }
  }

  subscribe<K extends EventName>(name: K, handler: EventHandler<K>): Disposer {
    let set = this.handlers.get(name);
    if (!set) {
      set = new Set();
      this.handlers.set(name, set);
    }
    // Each subscription gets its own entry, so subscribing one function twice delivers twice and
    // each disposer removes only its own subscription, once.
    const entry = (payload: never) => (handler as (p: never) => void)(payload);
    set.add(entry);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      set.delete(entry);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
