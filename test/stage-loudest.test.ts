/**
 * When more speakers talk at once than the stage forwards (ROSTRUM_VOICES, 3 by default), the
 * others hear the loudest three, over real WebRTC through the server; a voice that stops frees its
 * place for the next. Also the ranking itself: sticky by 6 dB, a place freed at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { goertzel, toneFrame } from '../src/bots/tone.js';
import type { Identity } from '../src/ids.js';
import { LoudestVoices } from '../src/stage/loudest-voices.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Goertzel power of a heard tone at level 0.05 is ~1e-3 after Opus; a voice not forwarded gives nothing. */
const HEARD = 1e-4;
const ABSENT = 1e-5;

describe('the stage forwards the loudest voices', () => {
  let t: TestServer;
  let id: string;
  const bots: SpeakerBot[] = [];
  let ear: SpeakerBot;
  // Four talkers, loudest first; the fourth is the one left out (8 dB below the third, so it never
  // displaces it, and loud enough to be heard clearly once a place is free: at 0.02 it sat within
  // 2× of HEARD and a run that let it in late failed).
  const talkers = [
    { who: 'loud', hz: 440, level: 0.3 },
    { who: 'middle', hz: 550, level: 0.2 },
    { who: 'soft', hz: 660, level: 0.1 },
    { who: 'softest', hz: 880, level: 0.04 },
  ];

  const seat = async (who: string, frameAt: (i: number) => Buffer) => {
    const token = t.token(id, who, 'speaker');
    assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
    assert.equal((await t.api.post(`/api/spaces/${id}/participants/${who}/unmute`, { token })).status, 200);
    const bot = await SpeakerBot.join({ server: t.url, token, frameAt });
    bots.push(bot);
    return bot;
  };
  const metric = async (pattern: RegExp) => {
    const text = await fetch(`${t.url}/metrics`).then((r) => r.text());
    return Number(pattern.exec(text)?.[1] ?? Number.NaN);
  };
  const quieterPackets = () => metric(/^rostrum_stage_packets_total\{outcome="quieter"\} (\d+)/m);
  const coalescing = () => metric(/^rostrum_media_receive_coalescing (\d+)/m);

  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true });
    // The ear says nothing: its silence is held back, so it takes no place.
    ear = await seat('ear', () => Buffer.alloc(1920));
    for (const { who, hz, level } of talkers) await seat(who, (i) => toneFrame(hz, i, level));
    await sleep(1500);
  });
  after(async () => {
    for (const bot of bots) await bot.close();
    await t?.close();
  });

  test('four talk at once: the others hear the loudest three, and the fourth is held back', async () => {
    const since = Date.now();
    await sleep(1500);
    const heard = ear.heardSince(since);
    const power = Object.fromEntries(talkers.map(({ who, hz }) => [who, goertzel(heard, hz)]));
    for (const who of ['loud', 'middle', 'soft']) assert.ok(power[who]! > HEARD, `the ear hears ${who}: ${JSON.stringify(power)}`);
    assert.ok(power.softest! < ABSENT, `not the softest: ${JSON.stringify(power)}`);
    assert.ok((await quieterPackets()) > 0, 'its packets are counted as held back for louder voices');
    // The softest still hears the three loudest.
    const softest = bots.at(-1)!.heardSince(since);
    for (const { who, hz } of talkers.slice(0, 3)) assert.ok(goertzel(softest, hz) > HEARD, `the softest hears ${who}`);
  });

  test('five speakers sending (250 packets a second) make the media worker coalesce its receives, and every voice above still came through it', async () => {
    // ROSTRUM_MEDIA_COALESCE_MS is 10 by default: engaged at 200 packets a second (media/receive-coalescing.ts).
    assert.equal(await coalescing(), 1);
  });

  test('the speakers’ established streams come in on the fast receive path; only their first packets take werift’s', async () => {
    const fast = await metric(/^rostrum_stage_received_packets_total\{path="fast"\} (\d+)/m);
    const werift = await metric(/^rostrum_stage_received_packets_total\{path="werift"\} (\d+)/m);
    // Five microphones for three seconds or more: hundreds of packets, a handful before each stream was established.
    assert.ok(fast > 500, `fast ${fast}`);
    assert.ok(werift >= 4 && werift < 50, `werift ${werift}`);
  });

  test('when a loud voice stops (muted here), the next one takes its place', async () => {
    const host = t.token(id, 'h', 'host');
    assert.equal((await t.api.post(`/api/spaces/${id}/participants/loud/mute`, { token: host })).status, 200);
    // The mute takes effect within 200 ms; the window starts after that and after the softest's first
    // forwarded packets (its stream resumes in a slot of the ear's).
    const since = Date.now() + 500;
    await sleep(1700);
    const heard = ear.heardSince(since);
    assert.ok(goertzel(heard, 440) < ABSENT, 'the muted voice is gone');
    assert.ok(goertzel(heard, 880) > HEARD, `and the softest is heard now (${goertzel(heard, 880)})`);
  });

  test('when the talkers leave, the worker stops coalescing (the ear alone sends 50 packets a second)', async () => {
    const talking = bots.splice(1);
    for (const bot of talking) await bot.close();
    const deadline = Date.now() + 5000;
    while ((await coalescing()) !== 0 && Date.now() < deadline) await sleep(200);
    assert.equal(await coalescing(), 0);
  });
});

describe('LoudestVoices', () => {
  const v = (name: string) => name as Identity;

  test('keeps the first three, lets a voice in only when it is 6 dB louder than the quietest, and frees a place at once', () => {
    const loudest = new LoudestVoices(3);
    // −dBov: 20 is louder than 30.
    assert.ok(loudest.admit(v('a'), 20, 0));
    assert.ok(loudest.admit(v('b'), 25, 0));
    assert.ok(loudest.admit(v('c'), 30, 0));
    assert.equal(loudest.admit(v('d'), 26, 0), false, '4 dB louder than c is not enough');
    assert.ok(loudest.admit(v('d'), 22, 0), '8 dB louder takes c’s place');
    assert.equal(loudest.admit(v('c'), 30, 20), false, 'c is out now');
    loudest.release(v('a'));
    assert.ok(loudest.admit(v('c'), 30, 40), 'a place freed is taken at once');
    assert.throws(() => new LoudestVoices(0), RangeError);
  });

  test('a voice that has gone quiet gives way within a second', () => {
    const loudest = new LoudestVoices(1);
    assert.ok(loudest.admit(v('a'), 20, 0));
    assert.equal(loudest.admit(v('b'), 25, 100), false);
    // a keeps sending near silence; its remembered peak falls about 1 dB each 20 ms.
    for (let now = 120; now < 700; now += 20) loudest.admit(v('a'), 90, now);
    assert.ok(loudest.admit(v('b'), 25, 700), 'b takes the place');
  });
});
