/**
 * The play button's state machine, apart from the page so it can be tested alone. The button's label
 * is derived from what pressing it does in the current state (`pressDoes`), so the two cannot
 * disagree: a page that is starting playback by itself says "Connecting…", and pressing it then
 * starts nothing new and never pauses (the bug this replaced: a press during autoplay paused it).
 *
 *   waiting ──live──▶ connecting ──playing──▶ playing ──press──▶ paused ──press──▶ connecting
 *      │                  │                   │   ▲
 *   blocked            blocked             stalled│playing
 *      ▼                  ▼                   ▼   │
 *    locked ──press──▶ (lobby: waiting; live: connecting)    reconnecting (retries by itself)
 */

export type Playback =
  /** The lobby: nothing to play yet; sound may play by itself when the space goes live. */
  | 'waiting'
  /** The browser wants a gesture before sound: the next press plays (in the lobby: allows sound). */
  | 'locked'
  /** A replay not started yet. */
  | 'idle'
  /** Playback was asked for (by the page or a press); no sound yet. */
  | 'connecting'
  | 'playing'
  /** Paused by the listener (button, headset, lock screen). */
  | 'paused'
  /** Was playing; the stream stalled or the network failed; the player retries by itself. */
  | 'reconnecting';

export type PlaybackEvent =
  /** The live stream's address arrived (the space went live while the page waited). */
  | 'live'
  /** Playback was asked for: a press, a headset's play key, the page starting by itself. */
  | 'play'
  /** The media element is producing sound. */
  | 'playing'
  /** The media element paused (the listener, or the system). */
  | 'paused'
  /** The browser refused to play without a gesture. */
  | 'blocked'
  /** A gesture allowed sound while nothing was there to play yet (the lobby). */
  | 'unlocked'
  /** The media ran dry or the network failed while playing. */
  | 'stalled';

/** What a press on the button does in each state. */
export type Press = 'play' | 'pause' | 'unlock' | 'nothing';

export function pressDoes(state: Playback, hasStream: boolean): Press {
  switch (state) {
    case 'playing':
    case 'reconnecting':
      return 'pause';
    case 'connecting':
    case 'waiting':
      return 'nothing';
    case 'locked':
      return hasStream ? 'play' : 'unlock';
    case 'idle':
    case 'paused':
      return 'play';
  }
}

export function next(state: Playback, event: PlaybackEvent, hasStream: boolean): Playback {
  switch (event) {
    case 'live':
      return state === 'waiting' ? 'connecting' : state;
    case 'play':
      return hasStream ? 'connecting' : state === 'locked' ? state : 'waiting';
    case 'playing':
      return hasStream ? 'playing' : state;
    case 'paused':
      // A pause while connecting is the element settling (a source swap), not the listener's.
      return state === 'playing' || state === 'reconnecting' ? 'paused' : state;
    case 'blocked':
      return 'locked';
    case 'unlocked':
      return state === 'locked' ? (hasStream ? 'connecting' : 'waiting') : state;
    case 'stalled':
      return state === 'playing' ? 'reconnecting' : state;
  }
}

/** The button's label: what pressing it does, in words. */
export function buttonLabel(state: Playback, live: boolean, hasStream: boolean): string {
  switch (pressDoes(state, hasStream)) {
    case 'pause':
      return '❚❚ Pause';
    case 'unlock':
      return '🔊 Allow sound for the start';
    case 'play':
      return live ? '▶ Listen live' : state === 'paused' ? '▶ Resume' : '▶ Play replay';
    case 'nothing':
      return state === 'waiting' ? 'Plays by itself when live' : 'Connecting…';
  }
}

/** A line beside the button, where the state needs more than its label. */
export function statusText(state: Playback, hasStream: boolean): string {
  if (state === 'reconnecting') return 'Reconnecting…';
  if (state === 'locked') return hasStream ? 'Press play to listen' : 'Your browser plays sound only after a click here';
  return '';
}
