/**
 * How the show went, in the host console (live, and on the replay page for the host and co-hosts):
 * the totals, and a chart of listeners over the show with the reactions under it — drawn as SVG here
 * (a line and bars need no charting library).
 */
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

interface Analytics {
  listeners: { peak: number; unique: number; minutes: number; points: Array<{ at: string; listeners: number }> };
  reactions: { total: Record<string, number>; points: Array<{ at: string; counts: Record<string, number> }> };
  replay: { plays: number; downloads: number };
  speakers: Array<{ identity: string; name: string; seconds: number }>;
}

const W = 640;
const H = 200;
const BARS = 40;

function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : m > 0 ? `${m} min ${seconds % 60} s` : `${seconds} s`;
}

export function AnalyticsPanel(props: { spaceId: string; token: string; live: boolean }) {
  const [data, setData] = useState<Analytics | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stopped = false;
    const load = () =>
      api<Analytics>('GET', `/api/spaces/${props.spaceId}/analytics`, { token: props.token })
        .then((a) => {
          if (stopped) return;
          setData(a);
          setError(null);
        })
        .catch((err: Error) => {
          if (!stopped) setError(err.message);
        });
    void load();
    const timer = props.live ? setInterval(load, 10_000) : undefined;
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [props.spaceId, props.live]);
  if (error) return <p role="alert">Analytics: {error}</p>;
  if (!data) return null;
  const points = data.listeners.points.map((p) => ({ t: Date.parse(p.at), n: p.listeners }));
  const t0 = points[0]?.t ?? 0;
  const t1 = points[points.length - 1]?.t ?? t0 + 1;
  const span = Math.max(1, t1 - t0);
  const top = Math.max(1, ...points.map((p) => p.n));
  const x = (t: number) => ((t - t0) / span) * W;
  const y = (n: number) => H * 0.75 - (n / top) * (H * 0.7);
  // Reactions in BARS equal slices of the show, under the line.
  const slices = new Array<number>(BARS).fill(0);
  for (const p of data.reactions.points) {
    const i = Math.min(BARS - 1, Math.max(0, Math.floor(((Date.parse(p.at) - t0) / span) * BARS)));
    slices[i] = (slices[i] ?? 0) + Object.values(p.counts).reduce((s, n) => s + n, 0);
  }
  const most = Math.max(1, ...slices);
  const reactions = Object.values(data.reactions.total).reduce((s, n) => s + n, 0);
  return (
    <section class="analytics" aria-label="Analytics">
      <h3>How it went</h3>
      <dl class="totals">
        <div>
          <dt>Peak</dt>
          <dd data-figure="peak">{data.listeners.peak}</dd>
        </div>
        <div>
          <dt>Unique listeners</dt>
          <dd data-figure="unique">{data.listeners.unique}</dd>
        </div>
        <div>
          <dt>Listening minutes</dt>
          <dd data-figure="minutes">{Math.round(data.listeners.minutes)}</dd>
        </div>
        <div>
          <dt>Reactions</dt>
          <dd data-figure="reactions">{reactions}</dd>
        </div>
        <div>
          <dt>Replay plays · downloads</dt>
          <dd data-figure="replay">
            {data.replay.plays} · {data.replay.downloads}
          </dd>
        </div>
      </dl>
      {points.length >= 2 && (
        <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Listeners over the show, up to ${top}; reactions below`} class="chart">
          {slices.map((n, i) => (
            <rect
              key={i}
              class="bar"
              x={(i * W) / BARS + 1}
              width={W / BARS - 2}
              y={H - (n / most) * (H * 0.2)}
              height={(n / most) * (H * 0.2)}
            />
          ))}
          <polyline class="line" fill="none" points={points.map((p) => `${x(p.t).toFixed(1)},${y(p.n).toFixed(1)}`).join(' ')} />
          <text x="4" y="14" class="axis">
            {top}
          </text>
        </svg>
      )}
      {data.speakers.length > 0 && (
        <ul class="speakers" aria-label="Time on stage">
          {data.speakers.map((s) => (
            <li key={s.identity}>
              {s.name}: {duration(s.seconds)}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
