/**
 * A recording tells the truth about its disk (issue 25). The data directory is a small tmpfs that
 * the test fills while a speaker is on air: the recording's writes fail, are logged at error level,
 * counted and retried; the node is not ready; past the backlog's bound the oldest segments become
 * gaps (EXT-X-GAP) instead of being listed and answering 404; once the disk has room the recording
 * goes on, every segment the replay lists is served, no temporary or empty file is left, and
 * recording.json says the duration the file has (ffprobe). A disk full at the end delays the file —
 * recording_pending with Retry-After — until there is room, also across a restart; a segment
 * damaged after the fact is skipped as a gap, never served. On a disk that answers EIO (a FUSE file
 * system failing on demand) the recording holds its audio and writes it once the disk works again,
 * and the database's writes are a coded 503 with the node not ready.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import HLS from 'hls-parser';
import type { MediaPlaylist } from 'hls-parser/types.js';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { createToken } from '../src/control/tokens.js';
import { type FaultyDir, mountFaultyDir } from './helpers/faulty-fs.js';
import { Api } from './helpers/http.js';
import { probeDuration } from './helpers/media.js';
import { type ChildServer, spawnServer, tempDir } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Small enough to fill in a moment, big enough for SQLite, the credentials and a minute of audio. */
const TMPFS_MB = 24;
// A 3-segment window: the backlog's floor is (3 + 2) segments, ~11 s; ROSTRUM_RECORDING_BACKLOG=1 asks for the floor.
const ENV = { ROSTRUM_HLS_WINDOW: '3', ROSTRUM_RECORDING_BACKLOG: '1', ROSTRUM_MIN_FREE_MB: '1' };

let mount: string;

before(() => {
  mount = tempDir('rostrum-tmpfs-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_MB}m,mode=0700`, 'tmpfs', mount]);
});

after(() => {
  execFileSync('umount', ['-l', mount]);
  fs.rmSync(mount, { recursive: true, force: true });
});

/** Fills the disk to the last byte; returns the filler's path (delete it to free the disk). */
function fillDisk(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(1 << 16, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  }
  // The last few bytes a block could not hold.
  for (const size of [4096, 512, 1]) {
    try {
      for (;;) fs.writeSync(fd, chunk.subarray(0, size));
    } catch {}
  }
  fs.closeSync(fd);
  return filler;
}

interface Run {
  server: ChildServer;
  api: Api;
  log: string[];
  operator: string;
  creds: { apiKey: string; apiSecret: string };
}

async function serve(dataDir: string): Promise<Run> {
  const server = await spawnServer(dataDir, ENV);
  // Every line from the start: what the server logs before it listens (recordings it finishes at start-up) too.
  const log = server.lines;
  const creds = JSON.parse(fs.readFileSync(path.join(dataDir, 'credentials.json'), 'utf8'));
  return { server, api: new Api(server.url), log, creds, operator: createToken({ ...creds, identity: 'operator', operator: true }) };
}

async function stop(run: Run, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  run.server.child.kill(signal);
  await run.server.exited;
}

/** A live space with a speaker sending a tone; resolves with its id, its host's token and the speaker. */
async function liveSpace(run: Run, title: string): Promise<{ id: string; host: string; speaker: SpeakerBot }> {
  const created = await run.api.post('/api/spaces', { token: run.operator, body: { title, host: { identity: 'h' }, startNow: true } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  const token = createToken({ ...run.creds, identity: 's', space: id, role: 'speaker' });
  assert.equal((await run.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
  assert.equal((await run.api.post(`/api/spaces/${id}/participants/s/unmute`, { token })).status, 200);
  const speaker = await SpeakerBot.join({ server: run.server.url, token, toneHz: 440 });
  return { id, host: created.body.hostToken as string, speaker };
}

async function metric(run: Run, name: string): Promise<number> {
  const text = await (await fetch(`${run.server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : Number.NaN;
}

/** Polls the recording file until it is no longer pending; returns the last answer. */
async function recordingFile(run: Run, id: string, waitMs: number): Promise<Response> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const answer = await fetch(`${run.server.url}/api/spaces/${id}/recording.m4a`);
    if (answer.status !== 503 || Date.now() > deadline) return answer;
    await answer.arrayBuffer();
    await sleep(250);
  }
}

/** Files a crash or a failed write could leave: temporary ones, and empty ones. */
function leftovers(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    if (entry.name.endsWith('.tmp') || (fs.statSync(file).size === 0 && !entry.name.endsWith('.db-shm'))) found.push(file);
  }
  return found;
}

async function vod(run: Run, id: string): Promise<MediaPlaylist> {
  return HLS.parse(await (await fetch(`${run.server.url}/hls/${id}/index.m3u8`)).text()) as MediaPlaylist;
}

/**
 * After a space ended: its file is made, every segment its replay lists (gaps aside) is served,
 * recording.json says the duration the file has (ffprobe), and no temporary or empty file is left.
 */
async function replayAgrees(run: Run, id: string, dataDir: string): Promise<{ playlist: MediaPlaylist; duration: number }> {
  const file = await recordingFile(run, id, 20_000);
  assert.equal(file.status, 200);
  const m4a = path.join(dataDir, 'fetched.m4a');
  fs.writeFileSync(m4a, Buffer.from(await file.arrayBuffer()));
  const playlist = await vod(run, id);
  for (const segment of playlist.segments) {
    const answer = await fetch(`${run.server.url}/hls/${id}/${segment.uri}`);
    await answer.arrayBuffer();
    if (!segment.gap) assert.equal(answer.status, 200, `segment ${segment.uri} is listed and served`);
  }
  const info = JSON.parse(fs.readFileSync(path.join(dataDir, 'broadcasts', id, 'recording.json'), 'utf8'));
  const probed = await probeDuration(m4a);
  assert.ok(Math.abs(info.duration - probed) < 0.05, `recording.json says ${info.duration} s, ffprobe ${probed} s`);
  fs.rmSync(m4a);
  assert.deepEqual(leftovers(dataDir), [], 'no temporary or empty file is left');
  return { playlist, duration: info.duration };
}

describe('a recording on a disk that fills up', { timeout: 240_000 }, () => {
  test('a full disk longer than the backlog: the writes fail loudly, the oldest become gaps, and the replay, the file and recording.json agree', async () => {
    const dataDir = path.join(mount, 'full-midway');
    const run = await serve(dataDir);
    let speaker: SpeakerBot | undefined;
    try {
      const space = await liveSpace(run, 'Disk full midway');
      speaker = space.speaker;
      await sleep(4000);
      assert.equal((await fetch(`${run.server.url}/readyz`)).status, 200);

      const filler = fillDisk(mount);
      const fullFor = 16_000; // past the ~11 s the backlog holds
      await sleep(3000);
      const notReady = await fetch(`${run.server.url}/readyz`);
      const why = (await notReady.json()) as { error: { code: string; message: string } };
      assert.equal(notReady.status, 503, 'not ready while the disk is full');
      assert.equal(why.error.code, 'not_ready');
      assert.match(why.error.message, /disk/);
      // A change that must be durable: made (SQLite may reuse its journal's pages), or refused with the coded 503 — never a 500.
      const write = await run.api.post('/api/spaces', { token: run.operator, body: { title: 'While full', host: { identity: 'h2' } } });
      assert.ok(write.status === 201 || (write.status === 503 && write.body.error.code === 'storage_full'), JSON.stringify(write.body));
      await sleep(fullFor - 3000);
      assert.ok((await metric(run, 'rostrum_recording_write_failures_total')) > 0);
      assert.ok((await metric(run, 'rostrum_recording_segments_lost_total')) > 0, 'segments past the backlog were given up');
      assert.ok(run.log.some((l) => l.includes('"level":50') && l.includes('recording write failed; held in memory and retried')));
      assert.ok(run.log.some((l) => l.includes('"level":50') && l.includes('recording backlog over its bound')));

      fs.rmSync(filler);
      const freedAt = Date.now();
      while ((await fetch(`${run.server.url}/readyz`)).status !== 200) {
        assert.ok(Date.now() - freedAt < 10_000, 'ready again within 10 s of the disk having room');
        await sleep(250);
      }
      assert.equal(await metric(run, 'rostrum_recording_backlog_seconds'), 0, 'the backlog was written');
      assert.ok(run.log.some((l) => l.includes('recording writes go through again')));
      await sleep(3000);
      await speaker.close();
      speaker = undefined;
      assert.equal((await run.api.post(`/api/spaces/${space.id}/end`, { token: space.host })).status, 200);

      const { playlist } = await replayAgrees(run, space.id, dataDir);
      assert.ok(playlist.segments.filter((s) => s.gap).length >= 1, 'the lost stretch is listed as gaps');
      const state = (await (await fetch(`${run.server.url}/api/spaces/${space.id}/state`)).json()) as { recordingUrl?: string };
      assert.ok(state.recordingUrl, 'the state document names the file');
    } finally {
      await speaker?.close();
      await stop(run);
    }
  });

  test('a disk full when the space ends: the file is pending, then made once there is room — after a restart too', async (t) => {
    // The recordings on a volume of their own, which fills; the database, beside it, can still end the space.
    const dataDir = path.join(mount, 'full-at-end');
    const recordings = path.join(dataDir, 'broadcasts');
    fs.mkdirSync(recordings, { recursive: true, mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', recordings]);
    t.after(() => execFileSync('umount', ['-l', recordings]));
    let run = await serve(dataDir);
    let speaker: SpeakerBot | undefined;
    let filler: string | undefined;
    try {
      const first = await liveSpace(run, 'Full at the end');
      speaker = first.speaker;
      await sleep(4000);
      filler = fillDisk(recordings);
      await speaker.close();
      speaker = undefined;
      assert.equal((await run.api.post(`/api/spaces/${first.id}/end`, { token: first.host })).status, 200);
      await sleep(2000);
      const pending = await fetch(`${run.server.url}/api/spaces/${first.id}/recording.m4a`);
      assert.equal(pending.status, 503);
      assert.equal(((await pending.json()) as { error: { code: string } }).error.code, 'recording_pending');
      assert.ok(pending.headers.get('retry-after'), 'Retry-After');
      fs.rmSync(filler);
      filler = undefined;
      const made = await recordingFile(run, first.id, 20_000);
      assert.equal(made.status, 200, 'made once the disk has room');
      await made.arrayBuffer();

      // Full at the end, and the server stops before there is room: the next start makes the file.
      const second = await liveSpace(run, 'Full at the end, then a restart');
      speaker = second.speaker;
      await sleep(4000);
      filler = fillDisk(recordings);
      await speaker.close();
      speaker = undefined;
      assert.equal((await run.api.post(`/api/spaces/${second.id}/end`, { token: second.host })).status, 200);
      await sleep(1500);
      await stop(run);
      fs.rmSync(filler);
      filler = undefined;
      run = await serve(dataDir);
      const remade = await recordingFile(run, second.id, 20_000);
      assert.equal(remade.status, 200, 'made at the next start');
      const m4a = path.join(dataDir, 'remade.m4a');
      fs.writeFileSync(m4a, Buffer.from(await remade.arrayBuffer()));
      const info = JSON.parse(fs.readFileSync(path.join(dataDir, 'broadcasts', second.id, 'recording.json'), 'utf8'));
      assert.ok(info.duration > 1, `it holds the audio recorded before the end (${info.duration} s)`);
      assert.ok(Math.abs(info.duration - (await probeDuration(m4a))) < 0.05);
      fs.rmSync(m4a);
      assert.ok(run.log.some((l) => l.includes('an ended recording has no file yet: making it')));
    } finally {
      if (filler) fs.rmSync(filler, { force: true });
      await speaker?.close();
      await stop(run);
    }
  });

  test('segments damaged after the fact (cut short, zeroed) are skipped as gaps, never served', async () => {
    const dataDir = path.join(mount, 'damaged');
    let run = await serve(dataDir);
    let speaker: SpeakerBot | undefined;
    try {
      const space = await liveSpace(run, 'Damaged');
      speaker = space.speaker;
      await sleep(9000);
      await speaker.close();
      speaker = undefined;
      assert.equal((await run.api.post(`/api/spaces/${space.id}/end`, { token: space.host })).status, 200);
      assert.equal((await recordingFile(run, space.id, 20_000)).status, 200);
      const before = await vod(run, space.id);
      await stop(run);

      const dir = path.join(dataDir, 'broadcasts', space.id);
      const cut = path.join(dir, before.segments[2]!.uri);
      const zeroed = path.join(dir, before.segments[3]!.uri);
      fs.truncateSync(cut, Math.floor(fs.statSync(cut).size / 2));
      fs.writeFileSync(zeroed, Buffer.alloc(fs.statSync(zeroed).size));
      run = await serve(dataDir);
      const after = await vod(run, space.id);
      assert.equal(after.segments.length, before.segments.length, 'the numbering is kept');
      assert.deepEqual(
        after.segments.map((s, i) => (s.gap ? i : -1)).filter((i) => i >= 0),
        [2, 3],
        'the damaged segments are gaps',
      );
      for (const i of [2, 3]) {
        const answer = await fetch(`${run.server.url}/hls/${space.id}/${after.segments[i]!.uri}`);
        await answer.arrayBuffer();
        assert.equal(answer.status, 404, 'a damaged segment is never served');
      }
      assert.equal(await metric(run, 'rostrum_recording_segments_damaged_total'), 2);
      assert.ok(fs.existsSync(`${cut}.damaged`) && fs.existsSync(`${zeroed}.damaged`), 'set aside, not deleted');
    } finally {
      await speaker?.close();
      await stop(run);
    }
  });
});

describe('a disk that answers EIO (a FUSE file system that fails on demand)', { timeout: 240_000 }, () => {
  let disk: FaultyDir;
  before(async () => {
    disk = await mountFaultyDir();
  });
  after(() => disk.unmount());

  test('recording writes failing with EIO for a while: logged, counted, not ready, retried — nothing within the backlog lost', async () => {
    const dataDir = path.join(disk.dir, 'recording');
    const run = await serve(dataDir);
    let speaker: SpeakerBot | undefined;
    try {
      const space = await liveSpace(run, 'EIO midway');
      speaker = space.speaker;
      await sleep(4000);
      assert.equal((await fetch(`${run.server.url}/readyz`)).status, 200);

      disk.fail('EIO', 'broadcasts/');
      const failedAt = Date.now();
      // The next segment's write fails (segments are 2 s), and the next readiness probe (every 2 s) sees it.
      let notReady = await fetch(`${run.server.url}/readyz`);
      while (notReady.status === 200 && Date.now() - failedAt < 6000) {
        await sleep(250);
        notReady = await fetch(`${run.server.url}/readyz`);
      }
      const why = (await notReady.json()) as { error: { code: string; message: string } };
      assert.equal(notReady.status, 503, `not ready while recording writes fail: ${run.log.slice(-5).join('\n')}`);
      assert.match(why.error.message, /recording writes are failing: .*EIO/);
      assert.ok((await metric(run, 'rostrum_recording_write_failures_total')) > 0);
      assert.ok(run.log.some((l) => l.includes('"level":50') && l.includes('recording write failed; held in memory and retried')));
      await sleep(Math.max(0, failedAt + 7000 - Date.now())); // 7 s in all: within the ~11 s the backlog holds
      disk.heal();

      const healedAt = Date.now();
      while ((await fetch(`${run.server.url}/readyz`)).status !== 200) {
        assert.ok(Date.now() - healedAt < 10_000, 'ready again within 10 s of the disk working');
        await sleep(250);
      }
      assert.equal(await metric(run, 'rostrum_recording_backlog_seconds'), 0, 'the backlog was written');
      assert.equal(await metric(run, 'rostrum_recording_segments_lost_total'), 0, 'nothing was given up');
      await sleep(3000);
      await speaker.close();
      speaker = undefined;
      assert.equal((await run.api.post(`/api/spaces/${space.id}/end`, { token: space.host })).status, 200);

      const { playlist, duration } = await replayAgrees(run, space.id, dataDir);
      assert.deepEqual(
        playlist.segments.filter((s) => s.gap).map((s) => s.uri),
        [],
        'no gap: every segment held through the failure was written',
      );
      assert.ok(duration > 12, `the file holds the whole space, the failing stretch too (${duration} s)`);
    } finally {
      disk.heal();
      await speaker?.close();
      await stop(run);
    }
  });

  test('the database failing with EIO: writes answer a coded 503, never a 500, the node is not ready, and what was acknowledged survives', async () => {
    const dataDir = path.join(disk.dir, 'database');
    let run = await serve(dataDir);
    try {
      const create = (title: string) => run.api.post('/api/spaces', { token: run.operator, body: { title, host: { identity: 'h' } } });
      const kept = await create('Acknowledged before');
      assert.equal(kept.status, 201);

      disk.fail('EIO', 'rostrum.db');
      const refused = await create('While the disk fails');
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'store_unavailable');
      assert.ok(refused.headers.get('retry-after'), 'Retry-After');
      const ready = await run.api.get('/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body.error.message, /SQLITE_IOERR/);
      assert.equal((await run.api.get(`/api/spaces/${kept.body.id}`)).status === 500, false, 'reads never answer 500');

      // A disk that failed is not trusted again by a running node: a restart on a working disk is.
      disk.heal();
      await stop(run);
      run = await serve(dataDir);
      assert.equal((await run.api.get('/readyz')).status, 200);
      const list = await run.api.get('/api/spaces', { token: run.operator });
      const titles = (list.body.spaces as Array<{ title: string }>).map((s) => s.title);
      assert.ok(titles.includes('Acknowledged before'), 'what was acknowledged is there');
      assert.ok(!titles.includes('While the disk fails'), 'what was refused is not');
      assert.equal((await create('After the restart')).status, 201);
    } finally {
      disk.heal();
      await stop(run);
    }
  });
});
