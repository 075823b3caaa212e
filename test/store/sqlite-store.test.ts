/**
 * SqliteSpaceStore: the shared SpaceStore contract on a database file in a fresh temp dir, plus what
 * only SQLite has (its durability pragmas and the migrations table).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import type { Space } from '../../src/control/model.js';
import type { Identity, SpaceId } from '../../src/ids.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteSpaceStore } from '../../src/store/sqlite/sqlite-store.js';
import { type OpenedStore, runSpaceStoreContract } from './space-store-contract.js';
import { runWebhookStoreContract } from './webhook-store-contract.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-sqlite-store-'));
}

/** A store on a new file; cleanup closes every store it opened (first and reopened) and removes the dir. */
async function openSqlite(): Promise<OpenedStore> {
  const dir = tempDir();
  const file = path.join(dir, 'rostrum.db');
  const opened: SqliteSpaceStore[] = [new SqliteSpaceStore(file)];
  return {
    store: opened[0]!,
    reopen: async () => {
      const store = new SqliteSpaceStore(file);
      opened.push(store);
      return store;
    },
    another: async () => {
      const store = new SqliteSpaceStore(file);
      opened.push(store);
      return store;
    },
    cleanup: async () => {
      for (const store of opened) await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

runSpaceStoreContract('sqlite (file)', openSqlite);
runWebhookStoreContract('sqlite', openSqlite);

describe('SqliteSpaceStore', () => {
  /** Runs `body` with a store on a file in a fresh directory, then closes everything and removes it. */
  async function withFile(body: (file: string, dir: string) => Promise<void>): Promise<void> {
    const dir = tempDir();
    try {
      await body(path.join(dir, 'rostrum.db'), dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  function readOnly(file: string): Database.Database {
    return new Database(file, { readonly: true, fileMustExist: true });
  }

  test('the database file is in WAL journal mode, as another connection sees it', () =>
    withFile(async (file) => {
      const store = new SqliteSpaceStore(file);
      const other = readOnly(file);
      try {
        const mode = other.pragma('journal_mode', { simple: true });

        assert.equal(mode, 'wal');
      } finally {
        other.close();
        await store.close();
      }
    }));

  test("the store's connection uses synchronous=FULL, so an acknowledged commit is on disk", () =>
    withFile(async (file) => {
      const store = new SqliteSpaceStore(file);
      try {
        const synchronous = (store as any).db.pragma('synchronous', { simple: true });

        assert.equal(synchronous, 2);
      } finally {
        await store.close();
      }
    }));

  test("the store's connection enforces foreign keys", () =>
    withFile(async (file) => {
      const store = new SqliteSpaceStore(file);
      try {
        assert.equal((store as any).db.pragma('foreign_keys', { simple: true }), 1);
      } finally {
        await store.close();
      }
    }));

  test('opening a new file applies every migration once and records each in schema_migrations', () =>
    withFile(async (file) => {
      const before = Date.now();
      const store = new SqliteSpaceStore(file);
      await store.close();
      const db = readOnly(file);
      try {
        const rows = db.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all() as {
          version: number;
          applied_at: number;
        }[];

        assert.deepEqual(
          rows.map((r) => r.version),
          MIGRATIONS.map((_, i) => i + 1),
        );
        for (const row of rows) assert.ok(row.applied_at >= before && row.applied_at <= Date.now(), `applied_at ${row.applied_at}`);
      } finally {
        db.close();
      }
    }));

  test('reopening an existing file does not re-run its migrations and keeps its data', () =>
    withFile(async (file) => {
      const space: Space = {
        id: 'kept' as SpaceId,
        title: 'Kept',
        hostIdentity: 'host' as Identity,
        hostName: 'Host',
        state: 'scheduled',
        scheduledStart: null,
        startedAt: null,
        endedAt: null,
        recording: true,
        autoStart: false,
        createdAt: 1,
        updatedAt: 1,
        peakListeners: 0,
        totalListeners: 0,
        reactions: {},
        pinnedLink: null,
        replayTrim: null,
      };
      const first = new SqliteSpaceStore(file);
      await first.createSpace(space, { identity: space.hostIdentity, name: 'Host', role: 'host', muted: false, joinedAt: 1 });
      await first.close();
      const readMigrations = () => {
        const db = readOnly(file);
        try {
          return db.prepare('SELECT version, applied_at FROM schema_migrations ORDER BY version').all();
        } finally {
          db.close();
        }
      };
      const recorded = readMigrations();

      const second = new SqliteSpaceStore(file);
      const loaded = await second.loadSpace(space.id);
      await second.close();
      const third = new SqliteSpaceStore(file);
      await third.close();

      assert.deepEqual(readMigrations(), recorded);
      assert.equal(recorded.length, MIGRATIONS.length);
      assert.deepEqual(loaded?.space, space);
    }));

  test('opening a file in a directory that does not exist yet creates the directory', () =>
    withFile(async (_file, dir) => {
      const nested = path.join(dir, 'a', 'b', 'rostrum.db');

      const store = new SqliteSpaceStore(nested);
      await store.ping();
      await store.close();

      assert.ok(fs.existsSync(nested));
    }));

  test('close can be called twice', () =>
    withFile(async (file) => {
      const store = new SqliteSpaceStore(file);

      await store.close();
      await store.close();

      await assert.rejects(store.ping());
    }));
});
