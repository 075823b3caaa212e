/**
 * A load test's report as one self-contained HTML page (opens offline: no scripts, no fonts, no
 * external files) with three charts drawn as inline SVG — joins and errors per second, join latency
 * percentiles, listeners over time — and the summary table.
 */

import { escapeMarkup } from '../escape.js';
import type { LoadReport } from './load-test.js';

interface Line {
  label: string;
  color: string;
  points: Array<[number, number]>;
}

function chart(title: string, unit: string, lines: Line[]): string {
  const width = 720;
  const height = 220;
  const pad = { left: 56, right: 12, top: 28, bottom: 30 };
  const all = lines.flatMap((l) => l.points);
  const maxX = Math.max(1, ...all.map((p) => p[0]));
  const maxY = Math.max(1, ...all.map((p) => p[1])) * 1.1;
  const x = (v: number) => pad.left + (v / maxX) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / maxY) * (height - pad.top - pad.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * maxY);
  const grid = ticks
    .map(
      (v) =>
        `<line x1="${pad.left}" x2="${width - pad.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${pad.left - 6}" y="${y(v) + 4}" text-anchor="end" font-size="11">${Math.round(v).toLocaleString('en')}</text>`,
    )
    .join('');
  const paths = lines
    .map((l) => {
      const d = l.points.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join('');
      return d ? `<path d="${d}" fill="none" stroke="${l.color}" stroke-width="2"/>` : '';
    })
    .join('');
  const legend = lines
    .map(
      (l, i) =>
        `<rect x="${pad.left + i * 120}" y="8" width="10" height="10" fill="${l.color}"/><text x="${pad.left + 14 + i * 120}" y="17" font-size="12">${escapeMarkup(l.label)}</text>`,
    )
    .join('');
  return `<figure><figcaption>${escapeMarkup(title)} (${escapeMarkup(unit)})</figcaption>
<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${escapeMarkup(title)}">${grid}${paths}${legend}
<text x="${width / 2}" y="${height - 6}" text-anchor="middle" font-size="11">seconds since start (0–${maxX})</text></svg></figure>`;
}

export function renderHtmlReport(report: LoadReport): string {
  const s = report.series;
  const row = (name: string, value: string) => `<tr><th scope="row">${escapeMarkup(name)}</th><td>${escapeMarkup(value)}</td></tr>`;
  const pct = (p: LoadReport['joinMs']) => (p ? `p50 ${p.p50} ms · p95 ${p.p95} ms · p99 ${p.p99} ms (${p.n})` : '—');
  const summary = [
    row('target', `${report.server} · space ${report.space}`),
    row(
      'listeners',
      `${report.listeners.toLocaleString('en')} (${report.profile}, ramp ${report.rampSeconds} s, ${report.durationSeconds} s, ${report.speakers} bot speakers)`,
    ),
    row('joined / heard audio', `${report.joined.toLocaleString('en')} / ${report.heardAudio.toLocaleString('en')}`),
    row('join latency', pct(report.joinMs)),
    row('time to first audio', pct(report.timeToFirstAudioMs)),
    row('stalls', `${report.stalls} (${report.stallsPerListenerMinute.toFixed(3)} per listener-minute)`),
    row('errors by status', JSON.stringify(report.errors)),
    row(
      'requests',
      `${report.requests.toLocaleString('en')} (${Math.round(report.requestsPerSecond).toLocaleString('en')}/s); origin ${report.originRequestsPerSecond === null ? '—' : `${Math.round(report.originRequestsPerSecond).toLocaleString('en')}/s`}`,
    ),
    row(
      'listener count',
      `reported ${report.listenerCount.reported ?? '—'} vs simulated ${report.listenerCount.simulated}${report.listenerCount.accuracy === null ? '' : ` (${(report.listenerCount.accuracy * 100).toFixed(1)} %)`}`,
    ),
  ].join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Rostrum load test · ${escapeMarkup(report.space)}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1b1b1f}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee;vertical-align:top}
figure{margin:1.5rem 0}figcaption{font-weight:600}</style></head><body>
<h1>Rostrum load test</h1><table>${summary}</table>
${chart('Joins and errors per second', 'per second', [
  { label: 'joins/s', color: '#3451b2', points: s.map((x) => [x.t, x.joins]) },
  { label: 'errors/s', color: '#c0152f', points: s.map((x) => [x.t, x.errors]) },
])}
${chart('Join latency', 'ms', [
  { label: 'p50', color: '#1f9d55', points: s.filter((x) => x.joinMs).map((x) => [x.t, x.joinMs!.p50]) },
  { label: 'p95', color: '#d97706', points: s.filter((x) => x.joinMs).map((x) => [x.t, x.joinMs!.p95]) },
  { label: 'p99', color: '#c0152f', points: s.filter((x) => x.joinMs).map((x) => [x.t, x.joinMs!.p99]) },
])}
${chart('Listeners', 'connected', [{ label: 'listeners', color: '#3451b2', points: s.map((x) => [x.t, x.listeners]) }])}
<p>Generated by <code>rostrum loadtest</code> on ${new Date().toISOString()}.</p></body></html>
`;
}
