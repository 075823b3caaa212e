/**
 * The broadcast player: LL-HLS through hls.js (light build, loaded on first play) in low-latency
 * mode, or the browser's own HLS where it has it (Safari). Transient errors (a 429 or 503 from an
 * overloaded origin, a network blip) are retried with backoff instead of ending playback, and the
 * player loads again as soon as the browser is back online. For a replay it is a seekable player with
 * its duration. The button follows the state machine in playback.ts; the lock screen, a headset and
 * media keys act through the Media Session API.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { buttonLabel, next, type Playback, type PlaybackEvent, pressDoes, statusText } from './playback.js';

interface HlsLike {
  loadSource(url: string): void;
  attachMedia(media: HTMLMediaElement): void;
  startLoad(): void;
  recoverMediaError(): void;
  /** Where the live edge is, for a player that comes back from a pause. */
  readonly liveSyncPosition: number | null;
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

/** Half a second of silence as a WAV blob: played in a gesture, it allows the element sound later (Safari asks per element). */
function silence(): string {
  const rate = 8000;
  const samples = rate / 2;
  const wav = new DataView(new ArrayBuffer(44 + samples * 2));
  const text = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) wav.setUint8(at + i, s.charCodeAt(i));
  };
  text(0, 'RIFF');
  wav.setUint32(4, 36 + samples * 2, true);
  text(8, 'WAVEfmt ');
  wav.setUint32(16, 16, true);
  wav.setUint16(20, 1, true); // PCM
  wav.setUint16(22, 1, true); // mono
  wav.setUint32(24, rate, true);
  wav.setUint32(28, rate * 2, true);
  wav.setUint16(32, 2, true);
  wav.setUint16(34, 16, true);
  text(36, 'data');
  wav.setUint32(40, samples * 2, true);
  return URL.createObjectURL(new Blob([wav], { type: 'audio/wav' }));
}

export interface PlayerMeta {
  title: string;
  host: string;
}

/**
 * `url` null: the lobby. The element is there already, so that when the space goes live it plays by
 * itself — where the browser asks for a gesture first, any click the listener gave in the lobby
 * counts (it plays a moment of silence on this element, which is what Safari remembers).
 */
export function Player(props: { url: string | null; live: boolean; autoStart: boolean; meta?: PlayerMeta }) {
  const audio = useRef<HTMLAudioElement>(null);
  const hasStream = props.url !== null;
  const [state, setState] = useState<Playback>(!hasStream ? 'waiting' : props.autoStart ? 'connecting' : 'idle');
  const [duration, setDuration] = useState<number | null>(null);
  const hls = useRef<HlsLike | null>(null);
  const unlocked = useRef(false);
  const dispatch = (event: PlaybackEvent) => setState((s) => next(s, event, props.url !== null));

  /**
   * Plays silence on the element (in a gesture, or to learn whether sound may play by itself). A
   * hidden tab's play() waits until the tab is shown (Chrome): until then the probe is pending.
   */
  const probing = useRef<Promise<boolean> | null>(null);
  const unlock = (): Promise<boolean> => {
    const media = audio.current;
    if (!media || unlocked.current) return Promise.resolve(unlocked.current);
    probing.current ??= (async () => {
      const src = silence();
      media.src = src;
      try {
        await media.play();
        unlocked.current = true;
      } catch {
        // NotAllowedError: this browser wants a gesture first.
      } finally {
        media.pause();
        media.removeAttribute('src');
        media.load();
        URL.revokeObjectURL(src);
      }
      return unlocked.current;
    })().finally(() => {
      probing.current = null;
    });
    return probing.current;
  };

  const attach = async (media: HTMLAudioElement, url: string) => {
    const { default: Hls } = await import('hls.js/light');
    if (!Hls.isSupported()) {
      media.src = url; // Safari plays HLS natively
      return;
    }
    const player = new Hls({
      lowLatencyMode: props.live,
      // Blocking playlist requests are held up to 6 s by the server.
      playlistLoadPolicy: loadPolicy(10_000, 20_000),
      manifestLoadPolicy: loadPolicy(10_000, 20_000),
      fragLoadPolicy: loadPolicy(10_000, 20_000),
    }) as unknown as HlsLike;
    player.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal) return;
      dispatch('stalled');
      // Never let a transient error end the broadcast: reload, or recover the media element.
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) player.recoverMediaError();
      else setTimeout(() => player.startLoad(), 1000 + Math.random() * 2000);
    });
    player.loadSource(url);
    player.attachMedia(media);
    hls.current = player;
    window.rostrumPlayer = player;
  };

  const play = async () => {
    const media = audio.current;
    if (!media || !props.url) return;
    dispatch('play');
    await probing.current; // the lobby's silence leaves the element first
    if (!hls.current && !media.src) await attach(media, props.url);
    // Back from a pause, a live listener hears now, not where they left off.
    const edge = hls.current?.liveSyncPosition;
    if (props.live && edge && media.currentTime < edge - 3) media.currentTime = edge;
    try {
      await media.play();
    } catch (err) {
      if ((err as Error).name === 'NotAllowedError') dispatch('blocked');
      // AbortError: a pause or a new source came first; the state says what happened.
    }
  };

  const press = () => {
    const does = pressDoes(state, hasStream);
    if (does === 'pause') audio.current?.pause();
    else if (does === 'play') void play();
    else if (does === 'unlock') void unlock().then((ok) => ok && dispatch('unlocked'));
    else if (state === 'connecting') void audio.current?.play().catch(() => undefined); // the gesture helps a browser that asked for one
  };

  // The lobby: learn whether sound may play by itself, and take the listener's first click if not.
  useEffect(() => {
    if (hasStream) return;
    void unlock().then((ok) => {
      if (!ok) dispatch('blocked');
    });
    const onGesture = () => void unlock().then((ok) => ok && dispatch('unlocked'));
    document.addEventListener('pointerdown', onGesture, { capture: true });
    document.addEventListener('keydown', onGesture, { capture: true });
    return () => {
      document.removeEventListener('pointerdown', onGesture, { capture: true });
      document.removeEventListener('keydown', onGesture, { capture: true });
    };
  }, [hasStream]);

  // The stream arrived (live from the start, or the lobby's space went live): start unless paused or blocked.
  useEffect(() => {
    if (!props.url) return;
    dispatch('live');
    if (props.autoStart && (state === 'waiting' || state === 'connecting')) void play();
    const online = () => hls.current?.startLoad();
    window.addEventListener('online', online);
    return () => {
      window.removeEventListener('online', online);
      hls.current?.destroy();
      hls.current = null;
    };
  }, [props.url]);

  // Lock screen, headset and keyboard media keys.
  useEffect(() => {
    const session = navigator.mediaSession;
    if (!session || !props.meta || state !== 'playing') return;
    session.metadata = new MediaMetadata({
      title: props.meta.title,
      artist: props.meta.host,
      album: props.live ? 'Live on Rostrum' : 'Rostrum replay',
      artwork: [{ src: document.querySelector<HTMLLinkElement>('link[rel=icon]')?.href ?? '', sizes: 'any', type: 'image/svg+xml' }],
    });
  }, [state === 'playing', props.meta?.title, props.meta?.host]);
  useEffect(() => {
    const session = navigator.mediaSession;
    if (!session) return;
    session.playbackState = state === 'playing' || state === 'reconnecting' ? 'playing' : state === 'paused' ? 'paused' : 'none';
    const handlers: [MediaSessionAction, (() => void) | null][] = [
      ['play', pressDoes(state, hasStream) === 'play' ? () => void play() : null],
      ['pause', pressDoes(state, hasStream) === 'pause' ? () => audio.current?.pause() : null],
      ['stop', () => audio.current?.pause()],
    ];
    for (const [action, handler] of handlers) {
      try {
        session.setActionHandler(action, handler);
      } catch {
        // an action this browser does not know
      }
    }
  }, [state, hasStream]);

  const status = statusText(state, hasStream);
  return (
    <section class="player" aria-label={props.live ? 'Live broadcast' : 'Replay player'}>
      <button
        id="listen"
        type="button"
        class="play"
        data-state={state}
        onClick={press}
        disabled={state === 'waiting'}
        aria-pressed={state === 'playing' || state === 'reconnecting'}
        aria-busy={state === 'connecting'}
      >
        {buttonLabel(state, props.live, hasStream)}
      </button>
      {/* biome-ignore lint/a11y/useMediaCaption: live conversations have no caption track (no transcription service) */}
      <audio
        id="player"
        ref={audio}
        controls={!props.live}
        preload="none"
        aria-label={props.live ? 'broadcast' : 'replay'}
        onPlaying={() => dispatch('playing')}
        onPause={() => dispatch('paused')}
        onWaiting={() => dispatch('stalled')}
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
