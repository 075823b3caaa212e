/**
 * A real-time playback of parts as they arrive, as a player would run it: it starts on the first
 * part and plays on at wall-clock speed; a part that arrives after what was buffered has run out
 * is a stall, and playback waits for it. Used by the listener bot and the load test's players.
 */
export class PlaybackClock {
  /** When playback started (the first part's arrival, ms on the caller's clock). */
  startedAt: number | undefined;
  /** Time spent waiting on late parts so far, ms. */
  stalledMs = 0;
  stalls = 0;
  private bufferedMs = 0;

  /** A part of `seconds` arrived at `now` (ms). Returns whether playback had run dry waiting for it. */
  arrived(seconds: number, now: number): boolean {
    let stalled = false;
    if (this.startedAt === undefined) this.startedAt = now;
    else {
      const playedMs = now - this.startedAt - this.stalledMs;
      if (playedMs > this.bufferedMs) {
        this.stalls++;
        this.stalledMs += playedMs - this.bufferedMs;
        stalled = true;
      }
    }
    this.bufferedMs += seconds * 1000;
    return stalled;
  }
}
