/**
 * PostgresSpaceStore: the shared SpaceStore contract against a real PostgreSQL server started for
 * this file (a fresh database per test), plus what only it has: migrations that several nodes run at
 * once, and a coded 503 — never a hang — while the database is away, with nothing acknowledged lost.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { RostrumError } from '../../src/errors.js';
import type { SpaceId } from '../../src/ids.js';
import { MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresSpaceStore } from '../../src/store/postgres/pg-store.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { makeHost, makeSpace, type OpenedStore, runSpaceStoreContract } from './space-store-contract.js';
import { runWebhookStoreContract } from './webhook-store-contract.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(() => server?.destroy());

async function openPostgres(): Promise<OpenedStore> {
  const url = await server.database();
  const opened: PostgresSpaceStore[] = [await PostgresSpaceStore.open(url)];
  const more = async () => {
    const store = await PostgresSpaceStore.open(url);
    opened.push(store);
    return store;
  };
  return {
    store: opened[0]!,
    reopen: more,
    another: more,
    cleanup: async () => {
      for (const store of opened) await store.close();
    },
  };
}

runSpaceStoreContract('postgres', openPostgres);
runWebhookStoreContract('postgres', openPostgres);

const live = (id: string) => makeSpace(id, { state: 'live', startedAt: 1 });

describe('PostgresSpaceStore', () => {
  test('five nodes starting at once on one empty database migrate it exactly once', async () => {
    const url = await server.database();
    const stores = await Promise.all(Array.from({ length: 5 }, () => PostgresSpaceStore.open(url)));
    try {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const rows = (await client.query('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
      await client.end();
      assert.deepEqual(
        rows,
        MIGRATIONS.map((_, i) => i + 1),
      );
      const created = live('after-migrations');
      await stores[0]!.createSpace(created, makeHost(created));
      assert.ok(await stores[4]!.loadSpace('after-migrations' as SpaceId));
    } finally {
      for (const s of stores) await s.close();
    }
  });

  test('while the database is away, writes and reads fail fast with store_unavailable; once it is back they work, nothing acknowledged lost', async () => {
    const url = await server.database();
    const store = await PostgresSpaceStore.open(url);
    try {
      const kept = live('kept');
      await store.createSpace(kept, makeHost(kept));
      await store.commit('kept' as SpaceId, [{ op: 'space.update', patch: { title: 'Acknowledged' } }]);
      await server.stop();
      const started = Date.now();
      await assert.rejects(store.commit('kept' as SpaceId, [{ op: 'space.update', patch: { title: 'While away' } }]), (err: unknown) => {
        assert.ok(err instanceof RostrumError, String(err));
        assert.equal(err.code, 'store_unavailable');
        assert.equal(err.status, 503);
        assert.ok(err.retryAfter && err.retryAfter > 0);
        return true;
      });
      await assert.rejects(store.ping(), (err: unknown) => err instanceof RostrumError && err.code === 'store_unavailable');
      assert.ok(Date.now() - started < 6000, `failed within ${Date.now() - started} ms`);
      await server.start();
      assert.equal((await store.loadSpace('kept' as SpaceId))?.space.title, 'Acknowledged');
      await store.commit('kept' as SpaceId, [{ op: 'space.update', patch: { title: 'After' } }]);
      assert.equal((await store.loadSpace('kept' as SpaceId))?.space.title, 'After');
    } finally {
      await store.close();
    }
  });
});
