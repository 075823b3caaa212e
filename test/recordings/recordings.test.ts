/**
 * RecordingStore: the contract on the data directory (the embedded default) and on a real PostgreSQL
 * server started for this file, then what only the shared store has: writes fenced by the owner's
 * epoch (a stale owner never writes into its successor's recording), and writes that wait, in
 * order, while the database is away and land when it is back.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DirRecordingStore } from '../../src/broadcast/recording-dir.js';
import type { SpaceId } from '../../src/ids.js';
import { PostgresRecordingStore } from '../../src/store/postgres/pg-recordings.js';
import { PostgresSpaceStore } from '../../src/store/postgres/pg-store.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { makeHost, makeSpace } from '../store/space-store-contract.js';
import { makeAudio, runRecordingContract } from './recording-contract.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(() => server?.destroy());

const tmp = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

runRecordingContract('dir', async () => {
  const root = tmp('rostrum-rec-dir-');
  return {
    store: new DirRecordingStore(root),
    reopen: async () => new DirRecordingStore(root),
    another: async () => undefined,
    cleanup: async () => fs.rmSync(root, { recursive: true, force: true }),
  };
});

/** A database with the schema (the space store migrates it) and the stores opened on it, one cache directory per node. */
async function postgresNodes() {
  const url = await server.database();
  const spaces = await PostgresSpaceStore.open(url);
  const opened: PostgresRecordingStore[] = [];
  const dirs: string[] = [];
  const node = () => {
    const dir = tmp('rostrum-rec-cache-');
    dirs.push(dir);
    const store = new PostgresRecordingStore(url, dir);
    opened.push(store);
    return store;
  };
  return {
    url,
    spaces,
    node,
    cleanup: async () => {
      for (const s of opened) await s.close();
      await spaces.close();
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

runRecordingContract('postgres', async () => {
  const nodes = await postgresNodes();
  const first = nodes.node();
  return { store: first, reopen: async () => nodes.node(), another: async () => nodes.node(), cleanup: nodes.cleanup };
});

describe('PostgresRecordingStore', () => {
  test('writes carry the owner epoch: after a take-over the old owner writes nothing more, the new one goes on', async () => {
    const nodes = await postgresNodes();
    try {
      const audio = makeAudio();
      const space = makeSpace('fenced', { state: 'live', startedAt: 1 });
      await nodes.spaces.createSpace(space, makeHost(space));
      const id = space.id;
      const oldEpoch = await nodes.spaces.claim(id, 'node-a');
      const old = nodes.node().open(id, { node: 'node-a', epoch: oldEpoch });
      old.writeInit(0, audio.init);
      old.appendSegment(audio.segments[0]!.record, audio.segments[0]!.data);
      await old.flushed();
      assert.equal(old.writeError, undefined);
      // node-b takes the space over; then node-a, paused meanwhile, resumes and writes segment 1.
      const newEpoch = await nodes.spaces.claim(id, 'node-b');
      const successor = nodes.node().open(id, { node: 'node-b', epoch: newEpoch });
      assert.equal((await successor.load()).length, 1);
      old.appendSegment(audio.segments[1]!.record, audio.segments[1]!.data);
      old.appendSegment(audio.segments[2]!.record, audio.segments[2]!.data);
      await old.flushed();
      assert.equal((old.writeError as { code?: string } | undefined)?.code, 'stale_owner');
      successor.writeInit(1, audio.init);
      const next = { ...audio.segments[2]!.record, msn: 1, run: 1, discontinuity: true };
      successor.appendSegment(next, audio.segments[2]!.data);
      await successor.flushed();
      assert.equal(successor.writeError, undefined);
      const records = await nodes.node().open(id).load();
      assert.deepEqual(
        records.map((r) => [r.msn, r.run]),
        [
          [0, 0],
          [1, 1],
        ],
        "segment 1 is the successor's, and the old owner's never landed",
      );
    } finally {
      await nodes.cleanup();
    }
  });

  test('while the database is away, writes wait in order (counted) and land when it is back; nothing is lost', async () => {
    const nodes = await postgresNodes();
    try {
      const audio = makeAudio();
      const store = nodes.node();
      const id = 'outage' as SpaceId;
      const w = store.open(id);
      w.writeInit(0, audio.init);
      w.appendSegment(audio.segments[0]!.record, audio.segments[0]!.data);
      await w.flushed();
      await server.stop();
      try {
        for (const s of audio.segments.slice(1)) w.appendSegment(s.record, s.data);
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(store.pending(), 2, 'two writes wait');
      } finally {
        await server.start();
      }
      const deadline = Date.now() + 15_000;
      while (store.pending() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(store.pending(), 0);
      assert.equal(w.writeError, undefined);
      assert.deepEqual(
        await nodes.node().open(id).load(),
        audio.segments.map((s) => s.record),
      );
    } finally {
      await nodes.cleanup();
    }
  });
});
