/**
 * The speaker's controls: the stage connection (web/stage-client.js: signalling, microphone, WebRTC,
 * reconnects), self mute and unmute, leaving the stage, an input level meter, and a clear message
 * when the microphone is denied or missing. Also used by a listener whose request to speak is
 * pending: the client waits on the stage socket and publishes the moment a host approves.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { StageClient } from '../../stage-client.js';

export interface StagePush {
  type: string;
  [key: string]: unknown;
}

export function SpeakerPanel(props: {
  spaceId: string;
  token: string;
  muted: boolean;
  onLeave: () => void;
  onPush: (message: StagePush) => void;
}) {
  const [state, setState] = useState('connecting');
  const [error, setError] = useState<string | null>(null);
  const [level, setLevel] = useState(0);
  const client = useRef<StageClient | null>(null);

  useEffect(() => {
    const stage = new StageClient({ token: props.token, spaceId: props.spaceId });
    client.current = stage;
    stage.addEventListener('state', (e) => setState((e as CustomEvent<string>).detail));
    stage.addEventListener('message', (e) => props.onPush((e as CustomEvent<StagePush>).detail));
    stage.addEventListener('error', (e) => {
      const err = (e as CustomEvent<Error & { code?: string }>).detail;
      setError(
        err.code === 'microphone_unavailable'
          ? 'Your microphone is blocked or missing. Allow it in the browser’s site settings (or plug one in), then try again.'
          : err.message,
      );
    });
    stage.addEventListener('left', (e) => {
      // The server keeps one stage connection per person: the newest (another tab or device) wins.
      if (/replaced/.test((e as CustomEvent<{ reason: string }>).detail.reason)) {
        setError('You joined the stage from another tab or device, so this one has left it. Reload to take the seat back here.');
      }
    });
    stage.start().catch((err: Error) => setError(err.message));
    // The input level meter: the microphone's RMS, ten times a second.
    let context: AudioContext | undefined;
    const meter = setInterval(() => {
      const mic = stage.microphone;
      if (!mic) return;
      if (!context) {
        context = new AudioContext();
        const analyser = context.createAnalyser();
        analyser.fftSize = 1024;
        context.createMediaStreamSource(mic).connect(analyser);
        (stage as unknown as { analyser: AnalyserNode }).analyser = analyser;
      }
      const analyser = (stage as unknown as { analyser: AnalyserNode }).analyser;
      const data = new Float32Array(analyser.fftSize);
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      setLevel(Math.min(1, Math.sqrt(sum / data.length) * 4));
    }, 100);
    return () => {
      clearInterval(meter);
      void context?.close();
      stage.close();
    };
  }, [props.token, props.spaceId]);

  const setMuted = async (muted: boolean) => {
    try {
      await client.current?.setMuted(muted);
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const label: Record<string, string> = {
    connecting: 'Connecting…',
    waiting: 'Asked to speak — waiting for a host',
    publishing: 'Starting your microphone…',
    live: 'You are on stage',
    reconnecting: 'Reconnecting…',
    closed: 'Off stage',
  };
  return (
    <section class="speaker" aria-label="Your microphone">
      <p role="status" class="speaker-state" data-state={state}>
        {label[state] ?? state}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {state !== 'waiting' && (
        <div class="controls">
          <meter class="level" min={0} max={1} value={props.muted ? 0 : level} aria-label="Microphone input level" />
          <button type="button" onClick={() => void setMuted(!props.muted)} aria-pressed={props.muted}>
            {props.muted ? '🎙 Unmute' : '🔇 Mute'}
          </button>
          <button type="button" onClick={props.onLeave}>
            Leave the stage
          </button>
        </div>
      )}
    </section>
  );
}
