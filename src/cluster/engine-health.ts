/**
 * Whether each engine a node uses answers: probed every two seconds in the background (a probe never
 * runs on a request's path), the result kept for /readyz and /metrics. The node-local store (SQLite)
 * is a readiness dependency: a node whose own database fails should leave the pool. A shared engine
 * (PostgreSQL, Redis) is only reported: every node shares it, so failing readiness on it would take
 * the whole cluster out of the pool at once — the way a 7-minute Redis outage became a 53-minute
 * cluster outage for LiveKit (livekit/livekit#4663) — while Rostrum keeps live spaces on the air
 * without it.
 */
import { Gauge, type Registry } from 'prom-client';

export interface EngineProbe {
  /** The engine: sqlite, postgres, redis. */
  engine: string;
  /** What this node uses it for: store, change log, ownership, counting… */
  uses: string[];
  /** True when the engine is shared by every node (reported, never a readiness failure). */
  shared: boolean;
  /** Resolves when it answers. */
  ping(): Promise<void>;
}

export interface EngineStatus {
  engine: string;
  uses: string[];
  shared: boolean;
  up: boolean;
  /** The last probe's round trip, ms. */
  latencyMs: number | undefined;
  /** When it last changed between up and down (epoch ms). */
  since: number;
  /** Why the last probe failed. */
  error?: string;
}

const PROBE_TIMEOUT_MS = 1500;

export class EngineHealth {
  private readonly statuses: EngineStatus[];
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;

  constructor(
    private readonly probes: EngineProbe[],
    private readonly intervalMs = 2000,
    private readonly onChange: (status: EngineStatus) => void = () => {},
  ) {
    const now = Date.now();
    this.statuses = probes.map((p) => ({ engine: p.engine, uses: p.uses, shared: p.shared, up: false, latencyMs: undefined, since: now }));
  }

  /** Probes once (so the first /readyz is true), then every interval. */
  async start(): Promise<void> {
    await this.probe();
    this.timer = setInterval(() => {
      this.probing ??= this.probe().finally(() => {
        this.probing = undefined;
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  status(): EngineStatus[] {
    return this.statuses.map((s) => ({ ...s }));
  }

  /** Prometheus gauges: rostrum_engine_up{engine} and rostrum_engine_ping_seconds{engine}. */
  register(registry: Registry): void {
    const read = () => this.statuses;
    new Gauge({
      name: 'rostrum_engine_up',
      help: 'Whether each engine this node uses answered its last probe (1) or not (0); shared engines never fail readiness',
      labelNames: ['engine', 'shared'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of read()) this.set({ engine: s.engine, shared: String(s.shared) }, s.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'rostrum_engine_ping_seconds',
      help: 'The last probe’s round trip to each engine that answered',
      labelNames: ['engine'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of read()) if (s.up && s.latencyMs !== undefined) this.set({ engine: s.engine }, s.latencyMs / 1000);
      },
    });
  }

  private async probe(): Promise<void> {
    await Promise.all(
      this.probes.map(async (probe, i) => {
        const started = performance.now();
        let error: string | undefined;
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            probe.ping(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
            }),
          ]);
        } catch (err) {
          error = (err as Error).message || String(err);
        } finally {
          clearTimeout(timer);
        }
        const status = this.statuses[i]!;
        const up = error === undefined;
        const changed = status.up !== up;
        status.up = up;
        status.latencyMs = up ? performance.now() - started : undefined;
        if (up) delete status.error;
        else status.error = error;
        if (changed) {
          status.since = Date.now();
          this.onChange({ ...status });
        }
      }),
    );
  }

  close(): void {
    clearInterval(this.timer);
  }
}
