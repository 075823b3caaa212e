/** The talking indicator's hysteresis: it starts on speech, survives short pauses, ends on silence. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import opus from '@discordjs/opus';
import { toneFrame } from '../src/bots/tone.js';
import type { Identity } from '../src/ids.js';
import { TalkingDetector } from '../src/stage/talking-detector.js';

const encoder = new opus.OpusEncoder(48_000, 1);
const loud = (i: number) => encoder.encode(toneFrame(300, i, 0.3));
const quiet = () => encoder.encode(Buffer.alloc(1920));
const who = 'alice' as Identity;

test('talking starts with speech, survives a 200 ms pause, and ends after 400 ms of silence', () => {
  const changes: boolean[] = [];
  const detector = new TalkingDetector((_, talking) => changes.push(talking));
  let now = 0;
  for (let i = 0; i < 10; i++, now += 20) detector.push(who, loud(i), now);
  assert.deepEqual(changes, [true]);
  for (let i = 0; i < 10; i++, now += 20) detector.push(who, quiet(), now); // 200 ms pause
  for (let i = 0; i < 5; i++, now += 20) detector.push(who, loud(i), now);
  assert.deepEqual(changes, [true], 'no flicker across a short pause');
  for (let i = 0; i < 30; i++, now += 20) detector.push(who, quiet(), now); // 600 ms silence
  assert.deepEqual(changes, [true, false]);
  assert.deepEqual(detector.talking(), []);
  detector.close();
});

test('forgetting a talking speaker reports that it stopped', () => {
  const changes: Array<[string, boolean]> = [];
  const detector = new TalkingDetector((identity, talking) => changes.push([identity, talking]));
  for (let i = 0; i < 5; i++) detector.push(who, loud(i), i * 20);
  detector.forget(who);
  assert.deepEqual(changes, [
    ['alice', true],
    ['alice', false],
  ]);
  detector.close();
});
