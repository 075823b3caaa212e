/**
 * The broadcast mixer with real libopus packets: it mixes the loudest voices (ranked by their RFC
 * 6464 levels), never decodes the others, lets a voice that grows louder in without a click, and
 * always mixes a voice whose packets carry no level.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import opus from '@discordjs/opus';
import { dBov } from '../src/audio/levels.js';
import { opusSamples } from '../src/audio/opus-toc.js';
import { goertzel, toneFrame } from '../src/bots/tone.js';
import { loadConfig } from '../src/config.js';
import type { Identity } from '../src/ids.js';
import { PLAYOUT_DELAY_MS } from '../src/media/jitter-buffer.js';
import { FRAME_SAMPLES, Mixer } from '../src/media/mixer.js';

const { OpusEncoder } = opus;

interface Voice {
  identity: Identity;
  hz: number;
  encoder: InstanceType<typeof OpusEncoder>;
  /** Amplitude (full scale 1) from a frame index on. */
  level: (frame: number) => number;
  /** Sends the RFC 6464 level header: the frame's own level, or what `header` says for it. */
  withLevel: boolean;
  header?: (frame: number) => number | undefined;
}

function voice(hz: number, level: number, withLevel = true): Voice {
  return { identity: `v${hz}` as Identity, hz, encoder: new OpusEncoder(48_000, 1), level: () => level, withLevel };
}

/** Feeds every voice one 20 ms packet per frame and mixes; the mixed PCM, frame by frame. */
function run(mixer: Mixer, voices: Voice[], frames: number): Buffer[] {
  const out: Buffer[] = [];
  for (let f = 0; f < frames; f++) {
    const now = f * 20;
    for (const v of voices) {
      const pcm = toneFrame(v.hz, f, v.level(f));
      mixer.push(v.identity, f & 0xffff, v.encoder.encode(pcm), now, v.withLevel ? (v.header?.(f) ?? dBov(pcm)) : undefined);
    }
    const frame = new Int16Array(FRAME_SAMPLES);
    mixer.mix(now, frame);
    out.push(Buffer.from(frame.buffer));
  }
  return out;
}

/** Goertzel power of each voice's tone in a stretch of the mix. */
function powers(pcm: Buffer, voices: Voice[]): Record<number, number> {
  return Object.fromEntries(voices.map((v) => [v.hz, goertzel(pcm, v.hz)]));
}

// A tone at amplitude 0.1 gives about 2.5e-3; a voice left out gives nothing but codec noise.
const HEARD = 5e-4;
const ABSENT = 5e-6;
const PLAYOUT_FRAMES = Math.ceil(PLAYOUT_DELAY_MS / 20) + 2;

describe('mixer', () => {
  test('mixes the loudest three voices and never decodes the other two', () => {
    const voices = [voice(310, 0.3), voice(470, 0.25), voice(630, 0.2), voice(770, 0.1), voice(890, 0.05)];
    const mixer = new Mixer(3);
    const frames = 100;
    const pcm = Buffer.concat(run(mixer, voices, frames).slice(PLAYOUT_FRAMES));
    const p = powers(pcm, voices);
    for (const hz of [310, 470, 630]) assert.ok(p[hz]! > HEARD, `${hz} Hz is in the mix: ${JSON.stringify(p)}`);
    for (const hz of [770, 890]) assert.ok(p[hz]! < ABSENT, `${hz} Hz is not: ${JSON.stringify(p)}`);
    const played = frames - Math.ceil(PLAYOUT_DELAY_MS / 20);
    assert.ok(mixer.counts.decoded <= 3 * played + 3, `only the mixed voices are decoded: ${JSON.stringify(mixer.counts)}`);
    assert.ok(mixer.counts.skipped >= 2 * played - 2, `the others are played out undecoded: ${JSON.stringify(mixer.counts)}`);
    assert.equal(mixer.counts.concealed, 0);
  });

  test('a voice that grows louder comes in faded, the quietest goes out, and nothing clicks', () => {
    // 890 Hz is the quietest for the first second, then its level headers say it is the loudest.
    // (Its audio stays as it was, so any step in the mix is the mixer's own doing.)
    const riser = { ...voice(890, 0.05), header: (f: number) => (f < 50 ? undefined : 5) };
    const voices = [voice(310, 0.2), voice(470, 0.15), voice(630, 0.1), riser];
    const mixer = new Mixer(3);
    const out = run(mixer, voices, 120);
    const before = powers(Buffer.concat(out.slice(PLAYOUT_FRAMES, 50)), voices);
    // The last second, well after the switch: a whole number of every tone's cycles (a stretch that
    // ends mid-cycle leaks a tone's power out of its Goertzel bin and reads it low).
    assert.ok(out.length - 50 >= 50 + PLAYOUT_FRAMES + 2);
    const after = powers(Buffer.concat(out.slice(out.length - 50)), voices);
    assert.ok(before[890]! < ABSENT && before[630]! > HEARD, `first the three loudest: ${JSON.stringify(before)}`);
    assert.ok(after[890]! > HEARD && after[630]! < ABSENT, `then 890 Hz in, 630 Hz out: ${JSON.stringify(after)}`);
    assert.ok(after[310]! > HEARD && after[470]! > HEARD, `the two loudest stay: ${JSON.stringify(after)}`);
    assert.equal(mixer.counts.switches, 1, 'one switch, no flapping');
    // No click: a cut shows as a spike in the second difference, which for these tones stays
    // below Σ amplitude × (2πf/48 kHz)² ≈ 75 (plus codec noise); without the fades it measured 1,008 here.
    const mixed = Buffer.concat(out.slice(PLAYOUT_FRAMES));
    const x = new Int16Array(mixed.buffer, mixed.byteOffset, mixed.length / 2);
    let spike = 0;
    for (let i = 2; i < x.length; i++) spike = Math.max(spike, Math.abs(x[i]! - 2 * x[i - 1]! + x[i - 2]!));
    assert.ok(spike < 300, `the largest second difference is ${spike}`);
  });

  test('a voice whose packets carry no level is always mixed, and takes a place', () => {
    const voices = [voice(310, 0.3), voice(470, 0.25), voice(630, 0.2), voice(890, 0.02, false)];
    const mixer = new Mixer(3);
    const p = powers(Buffer.concat(run(mixer, voices, 80).slice(PLAYOUT_FRAMES)), voices);
    assert.ok(p[890]! > 1e-5, `the unranked voice is heard: ${JSON.stringify(p)}`);
    assert.ok(p[310]! > HEARD && p[470]! > HEARD, `with the two loudest: ${JSON.stringify(p)}`);
    assert.ok(p[630]! < ABSENT, `and the third left out: ${JSON.stringify(p)}`);
  });

  test('every voice is mixed when the mix has room for all of them', () => {
    const voices = [voice(310, 0.1), voice(470, 0.1), voice(630, 0.1), voice(770, 0.1), voice(890, 0.1)];
    const mixer = new Mixer(13);
    const p = powers(Buffer.concat(run(mixer, voices, 60).slice(PLAYOUT_FRAMES)), voices);
    for (const v of voices) assert.ok(p[v.hz]! > HEARD, `${v.hz} Hz is in the mix: ${JSON.stringify(p)}`);
    assert.equal(mixer.counts.skipped, 0);
  });

  test('ROSTRUM_VOICES is 3 by default and must be 1 to 13', () => {
    assert.equal(loadConfig({}, {}).voices, 3);
    assert.equal(loadConfig({}, { ROSTRUM_VOICES: '13' }).voices, 13);
    assert.throws(() => loadConfig({}, { ROSTRUM_VOICES: '0' }), /ROSTRUM_VOICES must be an integer of at least 1/);
    assert.throws(() => loadConfig({}, { ROSTRUM_VOICES: '14' }), /ROSTRUM_VOICES must be at most 13/);
    assert.throws(() => new Mixer(0), RangeError);
  });
});

describe('opus packet length from its TOC byte', () => {
  test('a real 20 ms packet from libopus, and each frame-count code', () => {
    const encoder = new OpusEncoder(48_000, 1);
    assert.equal(opusSamples(encoder.encode(toneFrame(440, 0))), 960);
    // config 1: SILK NB 20 ms; config 3: SILK NB 60 ms; config 16: CELT NB 2.5 ms.
    assert.equal(opusSamples(Uint8Array.of((1 << 3) | 0)), 960);
    assert.equal(opusSamples(Uint8Array.of((3 << 3) | 0)), 2880);
    assert.equal(opusSamples(Uint8Array.of((1 << 3) | 1, 0)), 1920, 'code 1: two equal frames');
    assert.equal(opusSamples(Uint8Array.of((1 << 3) | 2, 0)), 1920, 'code 2: two frames');
    assert.equal(opusSamples(Uint8Array.of((16 << 3) | 3, 5)), 600, 'code 3: five 2.5 ms frames');
    assert.equal(opusSamples(Uint8Array.of((3 << 3) | 3, 3)), 0, 'over 120 ms is malformed');
    assert.equal(opusSamples(Uint8Array.of((1 << 3) | 3)), 0, 'code 3 without its count byte');
    assert.equal(opusSamples(new Uint8Array(0)), 0);
  });
});
