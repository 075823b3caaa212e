/**
 * Prometheus metrics, on a registry of this server's own (several servers can share a process in
 * tests). Served at /metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'rostrum_http_request_duration_seconds',
    help: 'HTTP request duration by route and status class',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5],
    registers: [this.registry],
  });
  readonly joins = new Counter({
    name: 'rostrum_listener_joins_total',
    help: 'Listener join tokens minted',
    registers: [this.registry],
  });
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
