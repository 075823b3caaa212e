/**
 * A damaged database is never a node that says it is ready and answers 500 (issue 25). Pages of a
 * real server's SQLite file are overwritten while it is stopped (what a bad disk or a copy taken
 * mid-write leaves). Damage the start reads (the spaces table) stops `rostrum serve` at once with
 * exit code 1 and the reason; damage elsewhere is found by the quick check at start: /readyz answers
 * 503 not_ready naming the database, and a read of the damaged table answers the coded 503
 * store_unavailable with Retry-After.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { createToken } from '../../src/control/tokens.js';
import { Api } from '../helpers/http.js';
import { runCli, spawnServer, tempDir } from '../helpers/server.js';

/** A data directory whose database holds many spaces and one with a long moderation log: its id and its host's token. */
async function populated(): Promise<{ dataDir: string; id: string; host: string }> {
  const dataDir = tempDir();
  const server = await spawnServer(dataDir);
  try {
    const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
    const operator = createToken({ ...creds, identity: 'operator', operator: true });
    const api = new Api(server.url);
    for (let i = 0; i < 40; i++) {
      const created = await api.post('/api/spaces', {
        token: operator,
        body: { title: `Space ${i} ${'x'.repeat(60)}`, host: { identity: 'h' } },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const created = await api.post('/api/spaces', { token: operator, body: { title: 'Logged', host: { identity: 'h' }, startNow: true } });
    const id = created.body.id as string;
    const host = created.body.hostToken as string;
    for (let i = 0; i < 60; i++) {
      const toggled = await api.post(`/api/spaces/${id}/participants/h/${i % 2 ? 'unmute' : 'mute'}`, { token: host });
      assert.equal(toggled.status, 200, JSON.stringify(toggled.body));
    }
    return { dataDir, id, host };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

/** Overwrites the root page of `table` with garbage. */
function damage(dataDir: string, table: string): void {
  const file = path.join(dataDir, 'rostrum.db');
  const db = new Database(file, { readonly: true });
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const root = (db.prepare('SELECT rootpage FROM sqlite_master WHERE name = ?').get(table) as { rootpage: number }).rootpage;
  db.close();
  assert.ok(fs.statSync(file).size >= root * pageSize, `the ${table} table's root page is in the file (checkpointed at stop)`);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (root - 1) * pageSize);
  fs.closeSync(fd);
}

test('damage the start reads: rostrum serve stops at once, exit code 1, saying so', async () => {
  const { dataDir } = await populated();
  damage(dataDir, 'spaces');
  const started = Date.now();
  const run = await runCli(['serve', '--port', '0', '--data', dataDir]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /database file cannot be read or written \(SQLITE_CORRUPT\)/);
  assert.ok(Date.now() - started < 8000, 'it exits, not hangs');
});

test('damage elsewhere: the node starts not ready, and reads of the damaged table answer a coded 503', async () => {
  const { dataDir, id, host } = await populated();
  damage(dataDir, 'actions');
  const server = await spawnServer(dataDir);
  const api = new Api(server.url);
  try {
    const ready = await api.get('/readyz');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.error.code, 'not_ready');
    assert.match(ready.body.error.message, /database file is damaged/);
    const read = await api.get(`/api/spaces/${id}/actions`, { token: host });
    assert.equal(read.status, 503, JSON.stringify(read.body));
    assert.equal(read.body.error.code, 'store_unavailable');
    assert.ok(read.headers.get('retry-after'));
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
  }
});
