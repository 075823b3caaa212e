/**
 * Receive coalescing for the media worker's thread: while many packets arrive, the thread sleeps a
 * short window between turns of its event loop, so one wake-up reads and forwards every packet that
 * came meanwhile instead of waking once per packet — what a network card's interrupt moderation
 * does for its host.
 *
 * Why: a full stage (13 speakers talking, 650 packets a second over 13 sockets, each at its own
 * moment) woke the worker about 620 times a second, and on a profile the wake-ups themselves
 * (the context switch, epoll, libuv's turn, caches gone cold) cost as much as the forwarding's
 * encryption. With a 10 ms window the worker wakes 100 times a second, and the server's CPU for that
 * stage fell by about 2 % of a core (bench/README.md has the A/B). The price is latency: a packet
 * waits up to one window (half of one on average) before it is forwarded. The bench measures the
 * server-added latency with a full stage talking, against the stage's p99 ≤ 80 ms budget.
 *
 * It is engaged only while it saves wake-ups — at twice the rate it wakes at or more (200 packets a
 * second for 10 ms, four speakers talking), and released under that rate — so a conversation of a
 * few voices pays no latency and an idle server sleeps in epoll as before. Only for a thread of its
 * own: on the main thread the sleep would hold up HTTP.
 *
 * Node cannot hold back epoll's wake-up, so this is written here: Atomics.wait on a private cell is
 * a plain timed sleep (a futex), and the setImmediate queued after it makes libuv's next turn poll
 * without blocking, reading everything that became ready while the thread slept.
 */

/** How often the packet rate is looked at, ms. */
const CHECK_EVERY_MS = 500;

export class ReceiveCoalescing {
  private readonly cell = new Int32Array(new SharedArrayBuffer(4));
  private readonly timer: NodeJS.Timeout;
  private lastCount: number;
  private lastAt = performance.now();
  private on = false;
  /** Times it was engaged. */
  engagements = 0;

  constructor(
    /** The sleep between turns, ms (1–20). */
    readonly windowMs: number,
    /** Packets received so far (a running total). */
    private readonly received: () => number,
    checkEveryMs = CHECK_EVERY_MS,
  ) {
    if (!Number.isInteger(windowMs) || windowMs < 1 || windowMs > 20)
      throw new RangeError(`a coalescing window is 1–20 ms, not ${windowMs}`);
    this.lastCount = received();
    this.timer = setInterval(() => this.check(), checkEveryMs);
    this.timer.unref();
  }

  /** Whether the thread sleeps between turns now. */
  get engaged(): boolean {
    return this.on;
  }

  /** The packet rate at or above which it engages, packets/s; it is released below half of it. */
  get engageRate(): number {
    return 2000 / this.windowMs;
  }

  private check(): void {
    const now = performance.now();
    const count = this.received();
    const rate = ((count - this.lastCount) * 1000) / (now - this.lastAt);
    this.lastCount = count;
    this.lastAt = now;
    if (!this.on && rate >= this.engageRate) {
      this.on = true;
      this.engagements++;
      setImmediate(this.turn);
    } else if (this.on && rate < this.engageRate / 2) {
      this.on = false;
    }
  }

  private readonly turn = (): void => {
    if (!this.on) return;
    Atomics.wait(this.cell, 0, 0, this.windowMs);
    setImmediate(this.turn);
  };

  /** Stops for good (the worker is shutting down): the loop may then run dry and exit. */
  stop(): void {
    clearInterval(this.timer);
    this.on = false;
  }
}
