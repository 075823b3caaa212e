/**
 * The pruner's turn (webhooks/delivery-pruner.ts): batches until one comes back short, never more
 * than its bound, the cut-off its keeping time before now; a store that fails is tried again at the
 * next turn, what was deleted counted. The store's deleting itself is the WebhookStore contract's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { DeliveryPruner } from '../../src/webhooks/delivery-pruner.js';
import type { WebhookStore } from '../../src/webhooks/webhook-store.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2030, 0, 31);

function storeAnswering(answers: Array<number | Error>): { store: WebhookStore; calls: Array<[number, number]> } {
  const calls: Array<[number, number]> = [];
  const store = {
    pruneDeliveries: async (before: number, limit: number) => {
      calls.push([before, limit]);
      const next = answers.shift() ?? 0;
      if (next instanceof Error) throw next;
      return next;
    },
  } as unknown as WebhookStore;
  return { store, calls };
}

test('a turn deletes batch after batch until one comes back short, before the keeping time', async () => {
  const { store, calls } = storeAnswering([1000, 1000, 7, 1000]);
  const pruner = new DeliveryPruner(store, 30 * DAY, pino({ level: 'silent' }), () => NOW);
  assert.equal(await pruner.prune(), 2007);
  assert.deepEqual(calls, [
    [NOW - 30 * DAY, 1000],
    [NOW - 30 * DAY, 1000],
    [NOW - 30 * DAY, 1000],
  ]);
  assert.equal(pruner.pruned, 2007);
});

test('a turn stops at its bound, and a store that fails leaves the rest to the next turn', async () => {
  const { store, calls } = storeAnswering(Array(50).fill(1000));
  const pruner = new DeliveryPruner(store, DAY, pino({ level: 'silent' }), () => NOW);
  assert.equal(await pruner.prune(), 20_000, 'twenty batches a turn at most');
  assert.equal(calls.length, 20);
  const failing = storeAnswering([1000, new Error('the database is away')]);
  const second = new DeliveryPruner(failing.store, DAY, pino({ level: 'silent' }), () => NOW);
  assert.equal(await second.prune(), 1000, 'what was deleted before the failure counts');
});
