/**
 * The play button's state machine (web/app/src/playback.ts), driven by random sequences of what a
 * listener and a browser do: whatever happened before, the button's label says what pressing it
 * does, a press while playback is starting never pauses it, and a press on a "▶" label never leaves
 * it paused. The browser tests (test/player-button.test.ts) hold the page to the same in Chromium.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { buttonLabel, next, type Playback, type PlaybackEvent, pressDoes } from '../web/app/src/playback.js';

const EVENTS: PlaybackEvent[] = ['live', 'play', 'playing', 'paused', 'blocked', 'unlocked', 'stalled'];
type Step = { kind: 'event'; event: PlaybackEvent } | { kind: 'press' };
const step = fc.oneof(
  fc.constantFrom(...EVENTS).map((event): Step => ({ kind: 'event', event })),
  fc.constant<Step>({ kind: 'press' }),
);

/** What the page does on a press, in events: a pause pauses the element; a play asks and may be refused. */
function pressed(state: Playback, hasStream: boolean, refused: boolean): Playback {
  switch (pressDoes(state, hasStream)) {
    case 'pause':
      return next(state, 'paused', hasStream);
    case 'play': {
      const asked = next(state, 'play', hasStream);
      return refused ? next(asked, 'blocked', hasStream) : asked;
    }
    case 'unlock':
      return refused ? state : next(state, 'unlocked', hasStream);
    case 'nothing':
      return state;
  }
}

test('the label says what a press does, after any history; a press never does the opposite', () => {
  fc.assert(
    fc.property(fc.boolean(), fc.boolean(), fc.array(step, { maxLength: 40 }), fc.boolean(), (live, startsInLobby, steps, refused) => {
      let hasStream = !startsInLobby;
      let state: Playback = startsInLobby ? 'waiting' : live ? 'connecting' : 'idle';
      for (const s of steps) {
        if (s.kind === 'event') {
          if (s.event === 'live') hasStream = true;
          state = next(state, s.event, hasStream);
          continue;
        }
        const label = buttonLabel(state, live, hasStream);
        const does = pressDoes(state, hasStream);
        if (label.startsWith('❚❚')) assert.equal(does, 'pause', `${state}: "${label}"`);
        if (label.startsWith('▶')) assert.equal(does, 'play', `${state}: "${label}"`);
        if (label === 'Connecting…' || state === 'waiting') assert.equal(does, 'nothing', `${state}: "${label}"`);
        const after = pressed(state, hasStream, refused);
        if (state === 'connecting') assert.equal(after, 'connecting', 'a press while starting never pauses');
        if (does === 'play') assert.notEqual(after, 'paused', 'a press on "▶" never leaves it paused');
        if (does === 'pause') assert.equal(after, 'paused');
        state = after;
      }
    }),
    { numRuns: 2000 },
  );
});

test('the lobby: waits, starts by itself at go-live; a browser that wants a gesture is asked once, in the lobby', () => {
  assert.equal(next('waiting', 'live', true), 'connecting');
  assert.equal(buttonLabel('waiting', true, false), 'Plays by itself when live');
  const locked = next('waiting', 'blocked', false);
  assert.equal(pressDoes(locked, false), 'unlock');
  assert.equal(next(locked, 'unlocked', false), 'waiting', 'after the click it waits to start by itself');
  assert.equal(next(locked, 'live', true), 'locked', 'not allowed yet: the live page asks');
  assert.equal(buttonLabel('locked', true, true), '▶ Listen live');
  assert.equal(next('playing', 'stalled', true), 'reconnecting');
  assert.equal(next('reconnecting', 'playing', true), 'playing', 'recovered without a press');
});
