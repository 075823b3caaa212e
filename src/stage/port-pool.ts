/**
 * The ports of ROSTRUM_RTC_PORT_RANGE, handed out one per session. werift's own search binds each
 * port of the range in turn to test it, closes it, and binds the one it found again: two sessions
 * answered at once find the same port and the second loses it (and every search costs up to a bind
 * per port in use). Here each session gets a port no other session of this process holds, and werift
 * is given exactly that port. A port another process holds fails that one session's bind; it is set
 * aside for a minute so the next session tries another.
 */
export class PortPool {
  private readonly inUse = new Set<number>();
  /** Ports that failed to bind (held by another process), with when they may be tried again. */
  private readonly busyUntil = new Map<number, number>();
  private next: number;

  constructor(
    private readonly range: [number, number],
    private readonly now: () => number = Date.now,
  ) {
    this.next = range[0];
  }

  get size(): number {
    return this.range[1] - this.range[0] + 1;
  }

  get used(): number {
    return this.inUse.size;
  }

  /** A free port, round-robin through the range (a just-released port is reused last); undefined when none is. */
  take(): number | undefined {
    const [low, high] = this.range;
    const now = this.now();
    for (let i = 0; i < this.size; i++) {
      const port = this.next;
      this.next = port === high ? low : port + 1;
      if (this.inUse.has(port)) continue;
      const busy = this.busyUntil.get(port);
      if (busy !== undefined) {
        if (busy > now) continue;
        this.busyUntil.delete(port);
      }
      this.inUse.add(port);
      return port;
    }
    return undefined;
  }

  release(port: number): void {
    this.inUse.delete(port);
  }

  /** The port could not be bound: held elsewhere. Released, and skipped for `forMs`. */
  busy(port: number, forMs = 60_000): void {
    this.inUse.delete(port);
    this.busyUntil.set(port, this.now() + forMs);
  }
}
