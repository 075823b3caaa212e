/**
 * Prometheus metrics, on a registry of this server's own (several servers can share a process in
 * tests), and the HTTP request timings (http-timings.ts). Served at /metrics.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RtcCounts } from '../media/media-plane.js';
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

  /** A counter by one label whose values are kept elsewhere as plain numbers and read at each scrape. */
  private countsFrom(name: string, help: string, label: string, read: () => Record<string, number>): void {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [value, n] of Object.entries(read())) this.inc({ [label]: value }, n);
      },
    });
  }

  /** A counter without labels whose value is kept elsewhere as a plain number and read at each scrape. */
  countFrom(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }

  /** A gauge without labels whose value is kept elsewhere and read at each scrape. */
  gaugeFrom(name: string, help: string, read: () => number): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(read());
      },
    });
  }

  /** rostrum_node_info{node_id, store, change_log, …} 1: which node this is and what it runs on. */
  nodeInfo(nodeId: string, implementations: Record<string, string>): void {
    const labels: Record<string, string> = { node_id: nodeId };
    for (const [name, kind] of Object.entries(implementations)) labels[name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)] = kind;
    new Gauge({
      name: 'rostrum_node_info',
      help: 'This node’s id and the implementation of each interface',
      labelNames: Object.keys(labels),
      registers: [this.registry],
    }).set(labels, 1);
  }

  /** Everything, in the Prometheus text format. */
  async render(): Promise<string> {
    return `${await this.registry.metrics()}\n${this.http.render()}`;
  }

  /** `sample` is read at each scrape: spaces by state, concurrent listeners, stage packets on this node. */
  constructor(
    sample: () => {
      spaces: Record<string, number>;
      listeners: number;
      stagePackets: Record<string, number>;
      stageReceivedBy: Record<string, number>;
      coalescing: boolean;
      rtc: RtcCounts;
    },
  ) {
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
    this.countsFrom(
      'rostrum_stage_packets_total',
      'Speakers’ microphone packets by outcome: forwarded, muted (dropped by the server), silent (held back)',
      'outcome',
      () => sample().stagePackets,
    );
    this.countsFrom(
      'rostrum_stage_received_packets_total',
      'Speakers’ microphone packets by the receive path that brought them: fast (an established Opus stream over AES-GCM SRTP) or werift (each stream’s first packet, and any other profile or stream)',
      'path',
      () => sample().stageReceivedBy,
    );
    this.countsFrom(
      'rostrum_listener_joins_total',
      'Listener join tokens minted, by the way the join came in (lane: answered before routing; route: the full route)',
      'way',
      () => this.joins,
    );
    new Gauge({
      name: 'rostrum_media_receive_coalescing',
      help: 'Whether the media worker coalesces its receives now (1: under load it sleeps a few ms between turns; ROSTRUM_MEDIA_COALESCE_MS)',
      registers: [this.registry],
      collect() {
        this.set(sample().coalescing ? 1 : 0);
      },
    });
    this.countsFrom(
      'rostrum_rtc_session_failures_total',
      'WebRTC sessions refused (rtc_unavailable), by reason: ports_exhausted (every port of ROSTRUM_RTC_PORT_RANGE held) or bind_failed (a port held by another program)',
      'reason',
      () => sample().rtc.failures,
    );
    new Gauge({
      name: 'rostrum_rtc_sessions',
      help: 'Speakers’ WebRTC sessions open on this node',
      registers: [this.registry],
      collect() {
        this.set(sample().rtc.sessions);
      },
    });
    new Gauge({
      name: 'rostrum_rtc_ports',
      help: 'Ports of ROSTRUM_RTC_PORT_RANGE, by state: in_use (one per session) and total (0 without a range)',
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const { portsInUse, portsTotal } = sample().rtc;
        this.set({ state: 'in_use' }, portsInUse);
        this.set({ state: 'total' }, portsTotal);
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
