/**
 * Prometheus metrics, on a registry of this server's own (several servers can share a process in
 * tests), and the HTTP request timings (http-timings.ts). Served at /metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { HttpTimings } from './http-timings.js';

export class Metrics {
  readonly registry = new Registry();
  /** Request durations by method, route and status (kept outside prom-client: see http-timings.ts). */
  readonly http = new HttpTimings();
  /**
   * Listener joins by the way they came in, counted in plain numbers and read at each scrape: a
   * prom-client increment per join cost a third of a microsecond on the flash crowd's hot path.
   */
  readonly joins = { lane: 0, route: 0 };
  readonly shed = new Counter({
    name: 'rostrum_shed_total',
    help: 'Requests answered 503 overloaded, by lane (sheddable joins, listeners’ reads)',
    labelNames: ['lane'] as const,
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'rostrum_rate_limited_total',
    help: 'Requests answered 429 rate_limited, by limit (join, heartbeat, reaction, request, write, addressWrite)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  readonly busHandlerErrors = new Counter({
    name: 'rostrum_bus_handler_errors_total',
    help: 'Event handlers that threw',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });

  /** Everything, in the Prometheus text format. */
  async render(): Promise<string> {
    return `${await this.registry.metrics()}\n${this.http.render()}`;
  }

  /** `sample` is read at each scrape: spaces by state, concurrent listeners, stage packets on this node. */
  constructor(sample: () => { spaces: Record<string, number>; listeners: number; stagePackets: Record<string, number> }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'rostrum_' });
    new Gauge({
      name: 'rostrum_spaces',
      help: 'Spaces held by this node, by state',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, n] of Object.entries(sample().spaces)) this.set({ state }, n);
      },
    });
    new Counter({
      name: 'rostrum_stage_packets_total',
      help: 'Speakers’ microphone packets by outcome: forwarded, muted (dropped by the server), silent (held back)',
      labelNames: ['outcome'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [outcome, n] of Object.entries(sample().stagePackets)) this.inc({ outcome }, n);
      },
    });
    const joins = this.joins;
    new Counter({
      name: 'rostrum_listener_joins_total',
      help: 'Listener join tokens minted, by the way the join came in (lane: answered before routing; route: the full route)',
      labelNames: ['way'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [way, n] of Object.entries(joins)) this.inc({ way }, n);
      },
    });
    new Gauge({
      name: 'rostrum_listeners',
      help: 'Concurrent listeners across the spaces this node holds',
      registers: [this.registry],
      collect() {
        this.set(sample().listeners);
      },
    });
  }
}
