/**
 * The contract every Ownership implementation keeps, run against each (ownership.test.ts): a space
 * has exactly one owner among the live nodes, every node names the same one, the owner's fence is
 * the store's, and an unknown space is a coded 404.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Ownership } from '../../src/cluster/ownership.js';
import { RostrumError } from '../../src/errors.js';
import type { SpaceId } from '../../src/ids.js';
import type { SpaceStore } from '../../src/store/space-store.js';
import { makeHost, makeSpace } from '../store/space-store-contract.js';

export interface OwnershipCluster {
  /** One Ownership per node, started, on one store. */
  nodes: Ownership[];
  store: SpaceStore;
  cleanup(): Promise<void>;
}

export async function addSpace(store: SpaceStore, id: string): Promise<SpaceId> {
  const space = makeSpace(id, { state: 'live', startedAt: 1, recording: false });
  await store.createSpace(space, makeHost(space));
  return space.id;
}

export function runOwnershipContract(name: string, open: () => Promise<OwnershipCluster>): void {
  async function withCluster(body: (c: OwnershipCluster) => Promise<void>): Promise<void> {
    const c = await open();
    try {
      await body(c);
    } finally {
      await c.cleanup();
    }
  }

  describe(`Ownership contract: ${name}`, () => {
    test('every node names the same owner for a space, a live node, and it alone owns it', () =>
      withCluster(async ({ nodes, store }) => {
        const ids = await Promise.all(['o-1', 'o-2', 'o-3', 'o-4'].map((id) => addSpace(store, id)));
        for (const id of ids) {
          const named = await Promise.all(nodes.map((n) => n.ownerOf(id)));
          // Asking the node named first settles it; every node names that one from then on.
          const owner = await nodes.find((n) => n.node.id === named[0]!.id)!.ownerOf(id);
          for (const n of nodes) assert.equal((await n.ownerOf(id)).id, owner.id, `node ${n.node.id} on ${id}`);
          assert.ok(
            nodes[0]!.nodes().some((n) => n.id === owner.id),
            'a live node',
          );
          assert.deepEqual(
            nodes.filter((n) => n.owns(id)).map((n) => n.node.id),
            [owner.id],
          );
        }
      }));

    test('the owner’s fence is the one the store recorded (or none, unfenced)', () =>
      withCluster(async ({ nodes, store }) => {
        const id = await addSpace(store, 'fenced');
        let owner = await nodes[0]!.ownerOf(id);
        owner = await nodes.find((n) => n.node.id === owner.id)!.ownerOf(id);
        const holder = nodes.find((n) => n.node.id === owner.id)!;
        const fence = holder.fence(id);
        if (fence) assert.deepEqual(fence, await store.owner(id));
        await store.commit(id, [{ op: 'space.update', patch: { title: 'Written by its owner' } }], fence);
        assert.equal((await store.loadSpace(id))?.space.title, 'Written by its owner');
      }));

    test('an unknown space is space_not_found, on every node', () =>
      withCluster(async ({ nodes }) => {
        for (const n of nodes) {
          await assert.rejects(
            n.ownerOf('nope' as SpaceId, { forwarded: true }),
            (err: unknown) => err instanceof RostrumError && err.code === 'space_not_found',
          );
        }
      }));
  });
}
