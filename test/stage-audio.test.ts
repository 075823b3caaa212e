/**
 * Speakers hear each other over real WebRTC, through the server, and never themselves; a mute is
 * enforced by the server dropping the audio; removal ends the session. Two bot speakers publish
 * 440 Hz and 660 Hz tones as Opus; what each receives is decoded and measured with Goertzel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { goertzel, toneFrame } from '../src/bots/tone.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** A tone at level 0.3 measures ~0.02 after Opus; silence and the other tone's leakage stay below 1e-4. */
const PRESENT = 2e-3;
const ABSENT = 2e-4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Both media planes pass the same suite: in the media worker (the default) and on the main thread.
for (const mediaWorker of [true, false]) {
  describe(`stage audio over WebRTC (media ${mediaWorker ? 'in a worker thread' : 'on the main thread'})`, () => {
    let t: TestServer;
    let id: string;
    let a: SpeakerBot;
    let b: SpeakerBot;
    const tokenB = () => t.token(id, 'b', 'speaker');

    before(async () => {
      t = await startTestServer({ mediaWorker });
      id = await createSpace(t, { live: true });
      for (const [who, hz] of [
        ['a', 440],
        ['b', 660],
      ] as const) {
        const token = t.token(id, who, 'speaker');
        assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
        assert.equal((await t.api.post(`/api/spaces/${id}/participants/${who}/unmute`, { token })).status, 200);
        const bot = await SpeakerBot.join({ server: t.url, token, toneHz: hz });
        if (who === 'a') a = bot;
        else b = bot;
      }
      await sleep(1000);
    });
    after(async () => {
      await a?.close();
      await b?.close();
      await t.close();
    });

    test('each speaker hears the other and not itself', async () => {
      const since = Date.now();
      await sleep(1000);
      const atA = a.heardSince(since);
      const atB = b.heardSince(since);
      assert.ok(atA.length > 0 && atB.length > 0, 'both hear something');
      assert.ok(goertzel(atA, 660) > PRESENT, `A hears B's 660 Hz (${goertzel(atA, 660)})`);
      assert.ok(goertzel(atA, 440) < ABSENT, `A does not hear itself (${goertzel(atA, 440)})`);
      assert.ok(goertzel(atB, 440) > PRESENT, `B hears A's 440 Hz (${goertzel(atB, 440)})`);
      assert.ok(goertzel(atB, 660) < ABSENT, `B does not hear itself (${goertzel(atB, 660)})`);

      const doc = (await t.api.get(`/api/spaces/${id}/state`)).body;
      const talking = Object.fromEntries(doc.stage.map((m: { identity: string; talking: boolean }) => [m.identity, m.talking]));
      assert.deepEqual(talking, { h: false, a: true, b: true }, 'the state document shows who is talking');
      assert.ok(
        a.messages.some((m) => m.type === 'talking' && m.identity === 'b' && m.talking === true),
        'talking is pushed to the stage',
      );
    });

    test('a host mute silences B for A within 300 ms although B keeps sending; only B may unmute', async () => {
      const host = t.token(id, 'h', 'host');
      const mutedAt = Date.now();
      assert.equal((await t.api.post(`/api/spaces/${id}/participants/b/mute`, { token: host })).status, 200);
      await sleep(1000);
      assert.ok(goertzel(a.heardSince(mutedAt + 300), 660) < ABSENT, 'no 660 Hz reaches A after 300 ms');
      const doc = (await t.api.get(`/api/spaces/${id}/state`)).body;
      assert.equal(doc.stage.find((m: { identity: string }) => m.identity === 'b').talking, false, 'a muted speaker is not talking');

      const byHost = await t.api.post(`/api/spaces/${id}/participants/b/unmute`, { token: host });
      assert.equal(byHost.body.error.code, 'unmute_others_forbidden');

      assert.equal((await t.api.post(`/api/spaces/${id}/participants/b/unmute`, { token: tokenB() })).status, 200);
      const unmutedAt = Date.now();
      await sleep(1000);
      assert.ok(goertzel(a.heardSince(unmutedAt + 200), 660) > PRESENT, '660 Hz returns after B unmutes itself');
    });

    test('a speaker whose connection drops is back on stage, heard again, within 5 s without host action', async () => {
      const dropped = Date.now();
      await b.close();
      b = await SpeakerBot.join({ server: t.url, token: tokenB(), toneHz: 660 });
      const back = Date.now();
      assert.ok(back - dropped < 5000, `rejoined in ${back - dropped} ms`);
      await sleep(800);
      assert.ok(goertzel(a.heardSince(back + 200), 660) > PRESENT, 'A hears B again');
      const stage = (await t.api.get(`/api/spaces/${id}/state`)).body.stage.map((m: { identity: string }) => m.identity);
      assert.deepEqual(stage, ['h', 'a', 'b'], 'B kept its place on stage');
    });

    test('a listener whose request is approved becomes a speaker and is heard without reconnecting', async () => {
      const token = t.token(id, 'carol', 'listener');
      assert.equal((await t.api.post(`/api/spaces/${id}/requests`, { token })).status, 200);
      const joining = SpeakerBot.join({ server: t.url, token, toneHz: 880 });
      await sleep(300);
      assert.equal((await t.api.post(`/api/spaces/${id}/participants/carol/approve`, { token: t.token(id, 'h', 'host') })).status, 200);
      const carol = await joining;
      try {
        await t.api.post(`/api/spaces/${id}/participants/carol/unmute`, { token });
        const since = Date.now();
        await sleep(1000);
        assert.ok(goertzel(a.heardSince(since + 200), 880) > PRESENT, 'A hears Carol');
        assert.ok(goertzel(carol.heardSince(since + 200), 440) > PRESENT, 'Carol hears A');
      } finally {
        await carol.close();
      }
    });

    test('silence is held back at the server (levels from the RFC 6464 header), and speech after it arrives whole', async () => {
      const silentPackets = async () => {
        const text = (await fetch(`${t.url}/metrics`).then((r) => r.text())) as string;
        return Number(/^rostrum_stage_packets_total\{outcome="silent"\} (\d+)/m.exec(text)?.[1] ?? Number.NaN);
      };
      const before = await silentPackets();
      const token = t.token(id, 'quiet', 'speaker');
      assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
      assert.equal((await t.api.post(`/api/spaces/${id}/participants/quiet/unmute`, { token })).status, 200);
      // 1.5 s of digital silence, then a 990 Hz tone.
      const quiet = await SpeakerBot.join({ server: t.url, token, frameAt: (i) => (i < 75 ? Buffer.alloc(1920) : toneFrame(990, i)) });
      try {
        await sleep(2500);
        const held = (await silentPackets()) - before;
        assert.ok(held >= 30, `the silent stretch past the 500 ms hangover was not forwarded (${held} packets held)`);
        assert.ok(goertzel(a.heardSince(Date.now() - 600), 990) > PRESENT, 'the tone after the silence is heard');
        // Nor any pause before it (mutes, a reconnect): every slot A receives is one unbroken sequence.
        const jumps = a.receivers.reduce((n, r) => n + r.discontinuities, 0);
        assert.equal(jumps, 0, 'the pauses are not seen as packet loss by the receiver');
      } finally {
        await quiet.close();
      }
    });

    test('removing B ends its session, and a new token for B is refused', async () => {
      await t.api.post(`/api/spaces/${id}/participants/b/remove`, { token: t.token(id, 'h', 'host') });
      await b.waitFor((m) => m.type === 'removed');
      const removedAt = Date.now();
      await sleep(800);
      assert.ok(goertzel(a.heardSince(removedAt + 200), 660) < ABSENT, 'A no longer hears B');
      await assert.rejects(SpeakerBot.join({ server: t.url, token: tokenB(), toneHz: 660 }), /identity_removed/);
    });
  });
}
