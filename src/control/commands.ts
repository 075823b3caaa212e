/**
 * How every change to a space happens: under the space's lock, decide (pure, against memory),
 * commit the ops durably, mirror them in memory, then publish the events. A decision that throws
 * changes nothing.
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { EventName, RostrumEvents } from '../bus/events.js';
import type { SpaceId } from '../ids.js';
import type { SpaceStore, StoreOp } from '../store/space-store.js';
import type { LiveSpace } from './live-space.js';
import type { SpaceRegistry } from './space-registry.js';

export type AnyEvent = { [K in EventName]: [K, RostrumEvents[K]] }[EventName];

export interface Change<T> {
  ops: StoreOp[];
  events: AnyEvent[];
  result: T;
}

export class CommandRunner {
  constructor(
    readonly registry: SpaceRegistry,
    private readonly store: SpaceStore,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  async run<T>(id: SpaceId, decide: (live: LiveSpace) => Change<T>): Promise<T> {
    const live = await this.registry.get(id);
    return live.locked(async () => {
      const change = decide(live);
      if (change.ops.length > 0) {
        await this.store.commit(id, change.ops);
        for (const op of change.ops) live.apply(op);
        for (const op of change.ops) {
          if (op.op === 'action.append') {
            this.log.info({ spaceId: id, actor: op.action.actor, action: op.action.action, target: op.action.target }, 'space action');
          }
        }
      }
      for (const [name, payload] of change.events) this.bus.publish(name, payload as never);
      return change.result;
    });
  }
}
