/**
 * A space's analytics for its host, co-hosts and the operator, computed from what Rostrum keeps
 * anyway: the tally points (listeners now and reactions so far, every tally while live), the
 * space's peak and unique listeners (HyperLogLog), the replay's plays and downloads, and the stage's
 * comings and goings (the webhook outbox's stage.joined/left events; the host is on stage from the
 * start). Listening minutes are the area under the listeners curve, closed at the end.
 */
import type { Identity } from '../ids.js';
import type { TallyPoint } from '../store/space-store.js';
import type { Space } from './model.js';

export interface Analytics {
  listeners: { peak: number; unique: number; minutes: number; points: Array<{ at: number; listeners: number }> };
  reactions: { total: Record<string, number>; points: Array<{ at: number; counts: Record<string, number> }> };
  replay: { plays: number; downloads: number };
  speakers: Array<{ identity: Identity; name: string; seconds: number }>;
}

/** A live space's audience as its node counts it now. */
export interface LiveAudience {
  listeners: number;
  peak: number;
  unique: number;
  reactions: Readonly<Record<string, number>>;
}

export interface StageEvent {
  type: 'stage.joined' | 'stage.left';
  occurredAt: number;
  data: { identity?: unknown; name?: unknown };
}

const sum = (counts: Record<string, number>) => Object.values(counts).reduce((s, n) => s + n, 0);

export function analytics(
  space: Space,
  tallies: readonly TallyPoint[],
  replay: { plays: number; downloads: number },
  stage: readonly StageEvent[],
  now: number,
  live: LiveAudience | undefined,
): Analytics {
  const start = space.startedAt;
  const end = space.endedAt ?? now;
  // The curve: the tallies, then where it stands now (live) or the last value held to the end.
  const points = tallies.map((t) => ({ at: t.at, listeners: t.listeners }));
  if (start !== null && points.length > 0 && space.state !== 'scheduled') {
    points.push({ at: end, listeners: live ? live.listeners : points[points.length - 1]!.listeners });
  }
  let area = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    area += ((a.listeners + b.listeners) / 2) * Math.max(0, b.at - a.at);
  }
  // Reactions per interval from the running totals.
  const reactionPoints: Analytics['reactions']['points'] = [];
  let before: Record<string, number> = {};
  for (const t of tallies) {
    const counts: Record<string, number> = {};
    for (const [emoji, n] of Object.entries(t.reactions)) if (n - (before[emoji] ?? 0) > 0) counts[emoji] = n - (before[emoji] ?? 0);
    reactionPoints.push({ at: t.at, counts });
    before = t.reactions;
  }
  const total = { ...(live?.reactions ?? space.reactions) };
  // Time on stage: the host from the start; everyone else between their joined and left events.
  const seconds = new Map<Identity, { name: string; ms: number; since: number | null }>();
  if (start !== null) seconds.set(space.hostIdentity, { name: space.hostName, ms: 0, since: start });
  for (const e of stage) {
    const identity = String(e.data.identity) as Identity;
    const entry = seconds.get(identity) ?? { name: String(e.data.name ?? identity), ms: 0, since: null };
    if (e.type === 'stage.joined' && entry.since === null) entry.since = Math.max(e.occurredAt, start ?? e.occurredAt);
    if (e.type === 'stage.left' && entry.since !== null) {
      entry.ms += Math.max(0, e.occurredAt - entry.since);
      entry.since = null;
    }
    seconds.set(identity, entry);
  }
  const speakers = [...seconds].map(([identity, e]) => ({
    identity,
    name: e.name,
    seconds: Math.round((e.ms + (e.since !== null && start !== null ? Math.max(0, end - e.since) : 0)) / 1000),
  }));
  speakers.sort((a, b) => b.seconds - a.seconds);
  return {
    listeners: {
      peak: Math.max(space.peakListeners, live?.peak ?? 0, ...points.map((p) => p.listeners)),
      unique: Math.max(space.totalListeners, live?.unique ?? 0),
      minutes: Math.round(area / 6000) / 10,
      points,
    },
    reactions: { total, points: reactionPoints.filter((p) => sum(p.counts) > 0 || reactionPoints.length < 500) },
    replay,
    speakers,
  };
}
