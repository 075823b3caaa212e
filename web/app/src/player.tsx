/**
 * The broadcast player: LL-HLS through hls.js (light build, loaded on first play) in low-latency
 * mode, or the browser's own HLS where it has it (Safari). Transient errors (a 429 or 503 from an
 * overloaded origin, a network blip) are retried with backoff instead of ending playback. For a
 * replay it is a seekable player with its duration.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

interface HlsLike {
  loadSource(url: string): void;
  attachMedia(media: HTMLMediaElement): void;
  startLoad(): void;
  recoverMediaError(): void;
  destroy(): void;
  on(event: string, handler: (event: string, data: { fatal: boolean; type: string; details: string }) => void): void;
}

declare global {
  interface Window {
    /** The current hls.js instance (diagnostics; the latency benchmark reads it). */
    rostrumPlayer?: HlsLike;
  }
}

/** Retries per request before hls.js gives up on it (each with a growing, jittered wait). */
const RETRY = { maxNumRetry: 8, retryDelayMs: 500, maxRetryDelayMs: 8000 };
const loadPolicy = (ttfbMs: number, loadMs: number) => ({
  default: { maxTimeToFirstByteMs: ttfbMs, maxLoadTimeMs: loadMs, timeoutRetry: RETRY, errorRetry: RETRY },
});

export function Player(props: { url: string; live: boolean; autoStart: boolean }) {
  const audio = useRef<HTMLAudioElement>(null);
  const [playing, setPlaying] = useState(false);
  const [started, setStarted] = useState(false);
  const [status, setStatus] = useState('');
  const [duration, setDuration] = useState<number | null>(null);
  const hls = useRef<HlsLike | null>(null);

  const start = async () => {
    const media = audio.current;
    if (!media) return;
    setStarted(true);
    if (!hls.current && !media.src) {
      const { default: Hls } = await import('hls.js/light');
      if (Hls.isSupported()) {
        const player = new Hls({
          lowLatencyMode: props.live,
          // Blocking playlist requests are held up to 6 s by the server.
          playlistLoadPolicy: loadPolicy(10_000, 20_000),
          manifestLoadPolicy: loadPolicy(10_000, 20_000),
          fragLoadPolicy: loadPolicy(10_000, 20_000),
        }) as unknown as HlsLike;
        player.on(Hls.Events.ERROR, (_event, data) => {
          if (!data.fatal) return;
          setStatus('Reconnecting…');
          // Never let a transient error end the broadcast: reload, or recover the media element.
          if (data.type === Hls.ErrorTypes.MEDIA_ERROR) player.recoverMediaError();
          else setTimeout(() => player.startLoad(), 1000 + Math.random() * 2000);
        });
        player.loadSource(props.url);
        player.attachMedia(media);
        hls.current = player;
        window.rostrumPlayer = player;
      } else {
        media.src = props.url; // Safari plays HLS natively
      }
    }
    try {
      await media.play();
      setStatus('');
    } catch {
      setStatus('Press play to listen');
      setStarted(false);
    }
  };

  useEffect(() => {
    if (props.autoStart) void start();
    return () => {
      hls.current?.destroy();
      hls.current = null;
    };
  }, [props.url]);

  const toggle = () => {
    const media = audio.current;
    if (!media) return;
    if (!started || media.paused) void start();
    else media.pause();
  };

  return (
    <section class="player" aria-label={props.live ? 'Live broadcast' : 'Replay player'}>
      <button id="listen" type="button" class="play" onClick={toggle} aria-pressed={playing}>
        {playing ? '❚❚ Pause' : props.live ? '▶ Listen live' : '▶ Play replay'}
      </button>
      {/* biome-ignore lint/a11y/useMediaCaption: live conversations have no caption track (no transcription service) */}
      <audio
        id="player"
        ref={audio}
        controls={!props.live}
        preload="none"
        aria-label={props.live ? 'broadcast' : 'replay'}
        onPlaying={() => setPlaying(true)}
        onPause={() => setPlaying(false)}
        onLoadedMetadata={(e) => setDuration(Number.isFinite(e.currentTarget.duration) ? e.currentTarget.duration : null)}
      />
      {!props.live && duration !== null && <span class="muted">{formatDuration(duration)}</span>}
      {status && (
        <span class="muted" role="status">
          {status}
        </span>
      )}
    </section>
  );
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}
