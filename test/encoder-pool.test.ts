/**
 * The warm encoder (src/media/encoder-pool.ts): a spare ffmpeg waits, running and silent, and a
 * go-live takes it — no process start at go-live — while the next spare starts; what it encodes
 * begins with the first sample it is given (nothing from before); a spare that died or has other
 * settings is not handed out; closing leaves no process. And on a real server: the encoder of a
 * space that goes live was started before the host pressed Go live.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { toneFrame } from '../src/bots/tone.js';
import { fragmentTiming } from '../src/broadcast/fmp4.js';
import type { EncoderOutput } from '../src/media/aac-encoder.js';
import { EncoderPool } from '../src/media/encoder-pool.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer } from './helpers/server.js';

const options = { ffmpeg: findFfmpeg(), bitrate: 64_000, fragmentMs: 256 };

const running = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** What an encoder told its output. */
function collector() {
  const seen = { init: 0, fragments: [] as Buffer[], died: [] as string[] };
  const output: EncoderOutput = {
    init: () => void seen.init++,
    fragment: (moof) => void seen.fragments.push(moof),
    died: (reason) => void seen.died.push(reason),
  };
  return { seen, output };
}

const pool = new EncoderPool();
after(() => pool.close());

test('a go-live takes the running spare, which has written nothing, and the next spare starts behind it', async () => {
  pool.warm(options);
  const spare = pool.sparePid;
  assert.ok(running(spare), 'a spare is running');
  await sleep(800);
  assert.ok(running(spare), 'idle, it waits (and wrote nothing: output before audio would have killed it)');

  const { seen, output } = collector();
  const encoder = pool.take(options, output);
  assert.equal(encoder.pid, spare, 'the go-live got the spare');
  assert.deepEqual(pool.taken, { warm: 1, cold: 0 });
  await sleep(50);
  assert.ok(running(pool.sparePid) && pool.sparePid !== spare, 'the next spare is running');

  for (let i = 0; i < 50; i++) encoder.write(toneFrame(440, i)); // one second
  await encoder.end();
  assert.equal(seen.init, 1);
  assert.ok(seen.fragments.length >= 3, `${seen.fragments.length} fragments`);
  assert.equal(fragmentTiming(seen.fragments[0]!).decodeTime, 0, 'the first sample given is the first encoded');
  assert.deepEqual(seen.died, []);
});

test('a spare that died waiting, or one for other settings, is not handed out', async () => {
  const dead = pool.sparePid!;
  process.kill(dead, 'SIGKILL');
  while (running(dead)) await sleep(20);
  const { seen, output } = collector();
  const encoder = pool.take(options, output);
  assert.notEqual(encoder.pid, dead);
  assert.deepEqual(pool.taken, { warm: 1, cold: 1 });
  for (let i = 0; i < 25; i++) encoder.write(toneFrame(440, i));
  await encoder.end();
  assert.equal(seen.init, 1, 'the new process encodes');

  pool.warm(options);
  const other = pool.take({ ...options, bitrate: 32_000 }, collector().output);
  assert.notEqual(other.pid, pool.sparePid);
  assert.deepEqual(pool.taken, { warm: 1, cold: 2 });
  await other.kill();
});

test('closing stops the spare and starts no other', async () => {
  pool.warm(options);
  const spare = pool.sparePid;
  await pool.close();
  assert.equal(running(spare), false);
  pool.warm(options);
  assert.equal(pool.sparePid, undefined);
});

/** When a process started, epoch ms (Linux: /proc). */
function startedAt(pid: number): number {
  const ticks = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
  const boot = Number(/^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'))![1]);
  return boot * 1000 + (ticks / 100) * 1000; // USER_HZ is 100 on Linux
}

test('on a server, the encoder of a space going live was running before the host pressed Go live', async () => {
  const t = await startTestServer();
  try {
    const id = await createSpace(t, { live: false });
    await sleep(2500); // a process's start time is known to a second here (the boot time is whole seconds)
    const pressed = Date.now();
    assert.equal((await t.api.post(`/api/spaces/${id}/start`, { token: t.token(id, 'h', 'host') })).status, 200);
    let pid: number | undefined;
    for (const until = Date.now() + 5000; pid === undefined && Date.now() < until; await sleep(20)) {
      pid = t.server.broadcaster.broadcast(id as never)?.mix.encoderPid;
    }
    assert.ok(pid, 'the broadcast has an encoder');
    const lead = pressed - startedAt(pid);
    assert.ok(lead > 1000, `its ffmpeg was started ${lead} ms before Go live`);
  } finally {
    await t.close();
  }
});
