/**
 * One space's broadcast: its mix (clock, mixer, encoder — in the media plane, which feeds it the
 * stage's audio) feeding its packager, which records to its directory. Owns all three; ending it closes the mix (the encoder's last fragment included), turns
 * the playlist into VOD and then keeps or deletes the recording; stopping it (server shutdown) only
 * closes the mix, so a restart resumes the same broadcast after a discontinuity.
 */
import type { Logger } from 'pino';
import type { SpaceId } from '../ids.js';
import type { MediaPlane, MixHandle } from '../media/media-plane.js';
import type { MixOptions } from '../media/space-mix.js';
import { Packager, type PackagerOptions } from './packager.js';
import type { RecordingDir, RecordingInfo } from './recording-dir.js';

export class SpaceBroadcast {
  readonly packager: Packager;
  readonly mix: MixHandle;
  private stopped = false;

  constructor(
    readonly spaceId: SpaceId,
    readonly dir: RecordingDir,
    options: { mix: MixOptions; packager: PackagerOptions },
    media: MediaPlane,
    log: Logger,
  ) {
    const recovered = dir.load();
    this.packager = new Packager(dir, options.packager, recovered);
    if (recovered.length > 0) log.info({ spaceId, segments: recovered.length }, 'broadcast resumed after a restart');
    this.mix = media.startMix(spaceId, options.mix, {
      runStarted: (init, startedAt) => this.packager.startRun(init, startedAt),
      fragment: (moof, mdat) => this.packager.addFragment(moof, mdat),
      runEnded: (reason) => {
        this.packager.endRun();
        if (reason) log.warn({ spaceId, reason }, 'encoder died; restarting it');
      },
    });
  }

  /** The space ended: finish the broadcast, then keep the recording as one file (or delete it all). */
  async end(keep: boolean, ffmpeg: string): Promise<RecordingInfo | undefined> {
    if (this.stopped) return undefined;
    this.stopped = true;
    await this.mix.close();
    this.packager.end();
    if (!keep) {
      await this.dir.remove();
      return undefined;
    }
    return this.dir.finalize(ffmpeg, [...this.packager.segments]);
  }

  /** The server is stopping, the space is not: close the mix and let the writes land. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.packager.release();
    await this.mix.close();
    await this.dir.flushed();
  }
}
