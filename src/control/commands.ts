/**
 * How every change to a space happens: under the space's lock, decide (pure, against memory),
 * commit the ops durably — with the webhook events they cause, in the same transaction — mirror them
 * in memory, then publish the events. A decision that throws changes nothing.
 *
 * Only the space's owner runs its commands (requests reach it through the node that received them,
 * see api/forward.ts). Its commits carry its fence; a commit the store refuses as stale means another
 * node took the space over: this node lets it go at once and the client retries on the new owner.
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { EventName, RostrumEvents } from '../bus/events.js';
import type { Ownership } from '../cluster/ownership.js';
import { fail, RostrumError } from '../errors.js';
import type { SpaceId } from '../ids.js';
import type { SpaceStore, StoreOp } from '../store/space-store.js';
import { webhookEvents } from '../webhooks/events.js';
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
    readonly ownership: Ownership,
    /** Puts each change on the cluster's change log, for the other nodes' read views (cluster/read-views.ts). */
    private readonly share: (id: SpaceId, ops: StoreOp[], events: AnyEvent[]) => void = () => {},
  ) {}

  /** Publishes events of a change made outside run() (a space's creation), here and to the other nodes. */
  announce(id: SpaceId, events: AnyEvent[]): void {
    for (const [name, payload] of events) this.bus.publish(name, payload as never);
    this.share(id, [], events);
  }

  async run<T>(id: SpaceId, decide: (live: LiveSpace) => Change<T>): Promise<T> {
    if (!this.ownership.owns(id)) {
      // Requests are forwarded to the owner before they get here; a space nobody holds is taken here.
      const owner = await this.ownership.ownerOf(id, { forwarded: true });
      if (owner.id !== this.ownership.node.id) throw fail('stale_owner', `Space ${id} is run by node ${owner.id}; retry.`, 1);
    }
    const live = await this.registry.get(id);
    return live.locked(async () => {
      const change = decide(live);
      // Its webhook events go into the outbox in the same transaction (webhooks/events.ts).
      const outbox = webhookEvents(live.space, live.stage, change.events, Date.now()).map(
        (event): StoreOp => ({ op: 'event.append', event }),
      );
      if (change.ops.length + outbox.length > 0) {
        try {
          await this.store.commit(id, [...change.ops, ...outbox], this.ownership.fence(id));
        } catch (err) {
          if (err instanceof RostrumError && err.code === 'stale_owner') {
            this.log.warn({ spaceId: id, node: this.ownership.node.id }, 'a commit was refused as stale: another node owns the space now');
            this.ownership.lost(id);
          }
          throw err;
        }
        for (const op of change.ops) live.apply(op);
        for (const op of change.ops) {
          if (op.op === 'action.append') {
            this.log.info({ spaceId: id, actor: op.action.actor, action: op.action.action, target: op.action.target }, 'space action');
          }
        }
      }
      for (const [name, payload] of change.events) this.bus.publish(name, payload as never);
      this.share(id, change.ops, change.events);
      return change.result;
    });
  }
}
