/**
 * A node's part in the webhooks: its delivery worker, the reminders' clock, and the events written
 * outside a space's commands (a recording made). The events of the commands themselves are written
 * by the command runner, in their own transaction (control/commands.ts).
 */
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config.js';
import type { SpaceRegistry } from '../control/space-registry.js';
import type { SpaceId } from '../ids.js';
import type { SpaceStore } from '../store/space-store.js';
import { DeliveryPruner } from './delivery-pruner.js';
import { DeliveryWorker } from './delivery-worker.js';
import { recordingReady } from './events.js';
import { ReminderClock } from './reminder-clock.js';

export interface NodeWebhooks {
  worker: DeliveryWorker;
  pruner: DeliveryPruner;
  close(): Promise<void>;
}

export async function startWebhooks(options: {
  store: SpaceStore;
  registry: SpaceRegistry;
  bus: Bus;
  config: Config;
  node: string;
  /** Whether this node runs the space (so writes its events). */
  runsHere: (id: SpaceId) => Promise<boolean>;
  log: Logger;
}): Promise<NodeWebhooks> {
  const { store, bus, log } = options;
  const worker = new DeliveryWorker(store.webhooks, options.node, options.config.webhooks, log);
  const reminders = new ReminderClock(store, bus, options.runsHere, log);
  // A recording made here: its event, once per space (its id is the space's), whatever happens after.
  const unsubscribe = bus.subscribe('recording.ready', ({ spaceId, duration, bytes }) => {
    void (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          const { space } = await options.registry.get(spaceId);
          await store.commit(spaceId, [{ op: 'event.append', event: recordingReady(space, duration, bytes, Date.now()) }]);
          worker.nudge();
          return;
        } catch (err) {
          if (attempt >= 5) {
            log.error({ err, spaceId }, 'webhooks: could not write recording.ready');
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
        }
      }
    })();
  });
  // Changes made here are sent at once rather than at the next poll.
  const nudges = (['space.created', 'space.live', 'space.ended', 'stage.changed', 'participant.removed'] as const).map((name) =>
    bus.subscribe(name, () => worker.nudge()),
  );
  await reminders.start();
  worker.start();
  const pruner = new DeliveryPruner(store.webhooks, options.config.webhooks.keepMs, log);
  pruner.start();
  return {
    worker,
    pruner,
    close: async () => {
      unsubscribe();
      for (const dispose of nudges) dispose();
      reminders.close();
      pruner.close();
      await worker.close();
    },
  };
}
