/**
 * `rostrum_http_request_duration_seconds` — every request's duration by method, route and status —
 * as a Prometheus histogram kept here rather than in prom-client: prom-client's observe() builds,
 * checks and hashes the label set on every call, measured at 1.3 µs per request in the join lane
 * (a fifth of a join's own work). Here a series is made once per method, route and status, and an
 * observation is a bucket search and three additions. /metrics renders it in the text exposition
 * format after prom-client's registry.
 */

/** Upper bounds, seconds (then +Inf). */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5];
const NAME = 'rostrum_http_request_duration_seconds';

export class TimingSeries {
  /** Observations per bucket (not cumulative), the last one +Inf. */
  readonly counts = new Float64Array(BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(readonly labels: string) {}

  observe(seconds: number): void {
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/** A label value in the text format: backslash, double quote and newline escaped. */
const escapeLabel = (value: string): string => value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));

export class HttpTimings {
  private readonly bySeries = new Map<string, TimingSeries>();

  /** The series for one method, route and status; keep it to observe without a lookup. */
  series(method: string, route: string, status: number): TimingSeries {
    const key = `${method} ${status} ${route}`;
    let series = this.bySeries.get(key);
    if (series === undefined) {
      series = new TimingSeries(`method="${escapeLabel(method)}",route="${escapeLabel(route)}",status="${status}"`);
      this.bySeries.set(key, series);
    }
    return series;
  }

  /** The histogram in the Prometheus text format, ending with a newline. */
  render(): string {
    const lines = [`# HELP ${NAME} HTTP request duration by route and status`, `# TYPE ${NAME} histogram`];
    for (const s of this.bySeries.values()) {
      let cumulative = 0;
      for (let i = 0; i <= BUCKETS.length; i++) {
        cumulative += s.counts[i]!;
        const le = i < BUCKETS.length ? String(BUCKETS[i]) : '+Inf';
        lines.push(`${NAME}_bucket{le="${le}",${s.labels}} ${cumulative}`);
      }
      lines.push(`${NAME}_sum{${s.labels}} ${s.sum}`, `${NAME}_count{${s.labels}} ${s.count}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
