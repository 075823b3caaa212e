/**
 * One space's broadcast: its mix (clock, mixer, encoder — in the media plane, which feeds it the
 * stage's audio) feeding its packager, which records it (RecordingStore), and its progressive
 * stream (/listen/<id>.aac, to listeners here and to the stream edges). Owns all four. It opens
 * where the recording ends: after a restart, or on the node that took the space over, the same
 * broadcast goes on after a discontinuity (same playlist, same numbering). Ending it closes the mix
 * (the encoder's last fragment included), turns the playlist into VOD and deletes the recording
 * unless it is kept (the broadcaster makes its file); stopping it (server shutdown, the space handed over) only closes the mix.
 */
import type { Logger } from 'pino';
import type { SpaceId } from '../ids.js';
import type { MediaPlane, MixHandle } from '../media/media-plane.js';
import type { MixOptions } from '../media/space-mix.js';
import { LiveStream, type StreamCounters, type StreamEdges } from './live-stream.js';
import { Packager, type PackagerOptions } from './packager.js';
import type { SegmentRecord } from './playlist.js';
import type { Recording } from './recording-store.js';

/** How long a stopping broadcast waits for its last recording writes (the engine may be away). */
const STOP_FLUSH_MS = 5000;

export interface SpaceBroadcastOptions {
  mix: MixOptions;
  packager: PackagerOptions;
  stream: { edges: StreamEdges | undefined; counters: StreamCounters };
}

export class SpaceBroadcast {
  readonly packager: Packager;
  readonly stream: LiveStream;
  readonly mix: MixHandle;
  private stopped = false;

  /** Opens a space's broadcast where its recording ends, and starts its mix. */
  static async open(
    spaceId: SpaceId,
    recording: Recording,
    options: SpaceBroadcastOptions,
    media: MediaPlane,
    log: Logger,
  ): Promise<SpaceBroadcast> {
    const recovered = await recording.load();
    if (recovered.length > 0) log.info({ spaceId, segments: recovered.length }, 'broadcast resumed where its recording ends');
    return new SpaceBroadcast(spaceId, recording, recovered, options, media, log);
  }

  private constructor(
    readonly spaceId: SpaceId,
    readonly recording: Recording,
    recovered: SegmentRecord[],
    options: SpaceBroadcastOptions,
    media: MediaPlane,
    private readonly log: Logger,
  ) {
    this.packager = new Packager(recording, options.packager, recovered);
    this.packager.resume();
    this.stream = new LiveStream(spaceId, options.stream.edges, options.stream.counters, log.child({ spaceId }));
    this.mix = media.startMix(spaceId, options.mix, {
      runStarted: (init, startedAt) => {
        this.packager.startRun(init, startedAt);
        this.stream.runStarted(init);
      },
      fragment: (moof, mdat) => {
        this.packager.addFragment(moof, mdat);
        this.stream.part(moof, mdat);
      },
      clockJumped: (atSample, jumpMs) => {
        this.packager.clockJumped(atSample, jumpMs);
        log.warn(
          { spaceId, jumpMs },
          'the mix fell behind the clock (the process was stalled); the broadcast is re-anchored after a discontinuity',
        );
      },
      runEnded: (reason) => {
        this.packager.endRun();
        if (reason) log.warn({ spaceId, reason }, 'encoder died; restarting it');
      },
    });
  }

  /**
   * The space ended: finish the broadcast (the encoder's last fragment included) and, unless the
   * recording is kept, delete it. The owner then makes the file (Broadcaster, retrying failures).
   */
  async end(keep: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.mix.close();
    this.packager.end();
    await this.stream.end();
    if (!keep) await this.recording.remove();
  }

  /** The server is stopping or the space moves, the space goes on: close the mix and let the writes land. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.packager.release();
    this.stream.stop();
    await this.mix.close();
    let timer: NodeJS.Timeout | undefined;
    const landed = await Promise.race([
      this.recording.flushed().then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), STOP_FLUSH_MS);
      }),
    ]);
    clearTimeout(timer);
    if (!landed) {
      this.recording.abandon('stopped while the recording engine was away');
      this.log.error({ spaceId: this.spaceId }, 'the last recording writes could not be stored before stopping; they are lost');
    }
  }
}
