/**
 * The space as everyone sees it: the cacheable state document, polled about once a second with
 * full jitter (a million listeners must not poll in step) — more often around a scheduled start —
 * backing off on errors and honouring Retry-After. Stage members get pushes too, over their stage socket (see speaker.tsx).
 */
import { useEffect, useState } from 'preact/hooks';
import { retryDelay } from './api.js';

export interface Member {
  identity: string;
  name: string;
  role: 'host' | 'cohost' | 'speaker';
  muted: boolean;
  talking: boolean;
}

export interface SpaceState {
  id: string;
  title: string;
  state: 'scheduled' | 'live' | 'ended';
  scheduledStart: string | null;
  startedAt: string | null;
  endedAt: string | null;
  host: { identity: string; name: string };
  recording: boolean;
  /** Goes live by itself at scheduledStart. */
  autoStart: boolean;
  stage: Member[];
  /** Invitations to the stage waiting for an answer, as tags (a listener knows its own: never identities). */
  invited: string[];
  listeners: number;
  peakListeners: number;
  reactions: Record<string, number>;
  /** The link the host or a co-host pinned (http or https), kept with the replay. */
  pinnedLink: { url: string; title: string; pinnedAt: string } | null;
  playlistUrl?: string;
  recordingUrl?: string;
  /** A replay: where its host trimmed it (seconds from the start of the recording), or null. */
  replayTrim?: { start: number; end: number } | null;
}

/**
 * Around a scheduled start (10 s before to a minute after) the lobby looks four times as often, so a
 * listener waiting there hears the start within a fraction of a second; otherwise about once a second.
 */
export function pollDelay(doc: Pick<SpaceState, 'state' | 'scheduledStart'>, now: number): number {
  const starts = doc.scheduledStart ? Date.parse(doc.scheduledStart) : Number.NaN;
  const near = doc.state === 'scheduled' && now > starts - 10_000 && now < starts + 60_000;
  return near ? 150 + Math.random() * 200 : 500 + Math.random() * 1000;
}

export function useSpaceState(id: string): { doc: SpaceState | null; error: string | null; refresh: () => void } {
  const [doc, setDoc] = useState<SpaceState | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [nudge, setNudge] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    const poll = async () => {
      try {
        // no-cache: revalidate (a 304 from the edge) rather than reuse the browser's copy for its second.
        const response = await fetch(`/api/spaces/${encodeURIComponent(id)}/state`, { cache: 'no-cache' });
        if (!response.ok) {
          const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
          const retryAfter = Number(response.headers.get('retry-after')) || 0;
          throw Object.assign(new Error(body.error?.message ?? `HTTP ${response.status}`), { retryAfter, status: response.status });
        }
        const next = (await response.json()) as SpaceState;
        if (!stopped) {
          setDoc(next);
          setError(null);
        }
        failures = 0;
        timer = setTimeout(poll, pollDelay(next, Date.now()));
      } catch (err) {
        if (stopped) return;
        const e = err as Error & { retryAfter?: number; status?: number };
        setError(e.status === 404 ? 'This space does not exist.' : 'Reconnecting…');
        timer = setTimeout(poll, Math.max((e.retryAfter ?? 0) * 1000, retryDelay(failures++)));
      }
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [id, nudge]);
  return { doc, error, refresh: () => setNudge((n) => n + 1) };
}
