/**
 * The host's replay editor, under an ended space's replay: trim its start and end (typed, or taken
 * from where the replay player is), undo the trim, delete the recording. The server cuts at part
 * boundaries (about a quarter of a second) with no re-encoding, and says where it cut.
 */
import { useState } from 'preact/hooks';
import { api } from './api.js';
import type { SpaceState } from './state.js';

/** Seconds → m:ss.s */
export const clock = (seconds: number): string => {
  const m = Math.floor(seconds / 60);
  return `${m}:${(seconds - m * 60).toFixed(1).padStart(4, '0')}`;
};

/** "95", "95.5", "1:35" or "1:01:35" → seconds; NaN when it is none of these. */
export function parseClock(text: string): number {
  const parts = text.trim().split(':');
  if (parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return Number.NaN;
  return parts.reduce((seconds, p) => seconds * 60 + Number(p), 0);
}

/** Where the replay player is, in seconds of the whole recording (the player plays the trimmed replay). */
function playerPosition(doc: SpaceState): number | undefined {
  const audio = document.querySelector<HTMLAudioElement>('section.replay audio');
  if (!audio || !Number.isFinite(audio.currentTime)) return undefined;
  return (doc.replayTrim?.start ?? 0) + audio.currentTime;
}

export function ReplayEditor(props: { doc: SpaceState; token: string; refresh: () => void }) {
  const { doc, token } = props;
  const base = `/api/spaces/${doc.id}`;
  const [start, setStart] = useState(doc.replayTrim ? clock(doc.replayTrim.start) : '0:00.0');
  const [end, setEnd] = useState(doc.replayTrim ? clock(doc.replayTrim.end) : '');
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (what: () => Promise<string>) => {
    setBusy(true);
    try {
      setMessage(await what());
      props.refresh();
    } catch (err) {
      setMessage((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const trim = () =>
    run(async () => {
      const from = parseClock(start);
      const to = end.trim() === '' ? undefined : parseClock(end);
      if (Number.isNaN(from) || (to !== undefined && Number.isNaN(to))) throw new Error('Times are m:ss (1:35) or seconds (95.5).');
      const r = await api<{ trim: { start: number; end: number }; kept: number; recorded: number }>('PUT', `${base}/replay/trim`, {
        token,
        body: { start: from, ...(to !== undefined ? { end: to } : {}) },
      });
      setStart(clock(r.trim.start));
      setEnd(clock(r.trim.end));
      return `Trimmed: the replay runs from ${clock(r.trim.start)} to ${clock(r.trim.end)} of ${clock(r.recorded)} (${clock(r.kept)} long). The download is being made again.`;
    });

  const here = (set: (value: string) => void) => {
    const at = playerPosition(doc);
    if (at !== undefined) set(clock(at));
  };

  if (!doc.recording) return null;
  return (
    <form
      class="replay-editor"
      aria-label="Edit the replay"
      onSubmit={(e) => {
        e.preventDefault();
        void trim();
      }}
    >
      <h3>Edit the replay</h3>
      <div class="row">
        <label>
          Start <input value={start} onInput={(e) => setStart(e.currentTarget.value)} size={8} aria-label="Replay starts at" />
        </label>
        <button type="button" onClick={() => here(setStart)}>
          Start here
        </button>
        <label>
          End{' '}
          <input value={end} placeholder="the end" onInput={(e) => setEnd(e.currentTarget.value)} size={8} aria-label="Replay ends at" />
        </label>
        <button type="button" onClick={() => here(setEnd)}>
          End here
        </button>
        <button type="submit" class="primary" disabled={busy}>
          Trim
        </button>
        {doc.replayTrim && (
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              void run(async () => {
                await api('DELETE', `${base}/replay/trim`, { token, body: {} });
                setStart('0:00.0');
                setEnd('');
                return 'The whole recording is the replay again.';
              })
            }
          >
            Undo trim
          </button>
        )}
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={() =>
            confirm('Delete this recording for good? The replay, its download and its podcast episode go.') &&
            void run(async () => {
              await api('DELETE', `${base}/recording`, { token, body: {} });
              return 'Recording deleted.';
            })
          }
        >
          Delete recording
        </button>
      </div>
      {message && <p role="status">{message}</p>}
    </form>
  );
}
