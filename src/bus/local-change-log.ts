/**
 * The ChangeLog in process. On the embedded default there is one node, which owns every space, and
 * nobody follows: appends go nowhere. Several nodes in one process (tests) share a `LocalLogHub`, and
 * each one's entries reach the others' followers, in order, on a later tick (as across machines:
 * never inside the writer's call).
 */
import type { Disposer } from './bus.js';
import type { ChangeEntry, ChangeLog } from './change-log.js';

export class LocalLogHub {
  readonly logs = new Set<LocalChangeLog>();
}

export class LocalChangeLog implements ChangeLog {
  readonly kind = 'local';
  readonly dropped = 0;
  private readonly followers = new Set<(entry: ChangeEntry) => void>();
  private closed = false;

  constructor(
    private readonly node: string,
    private readonly hub: LocalLogHub = new LocalLogHub(),
  ) {
    hub.logs.add(this);
  }

  append(entry: ChangeEntry): void {
    // Alone (the embedded default): nobody follows, so nothing is copied or scheduled.
    if (this.closed || this.hub.logs.size <= 1) return;
    const copy = structuredClone(entry);
    setImmediate(() => {
      for (const log of this.hub.logs) if (log !== this && !log.closed) log.deliver(copy);
    });
  }

  private deliver(entry: ChangeEntry): void {
    if (entry.node === this.node) return;
    for (const follower of [...this.followers]) follower(entry);
  }

  follow(handler: (entry: ChangeEntry) => void): Disposer {
    this.followers.add(handler);
    return () => this.followers.delete(handler);
  }

  healthy(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.followers.clear();
    this.hub.logs.delete(this);
  }
}
