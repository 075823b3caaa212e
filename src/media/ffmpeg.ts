/**
 * Which ffmpeg to run: the one on PATH (Debian's, kept up to date by the system), else the static
 * build that the `@ffmpeg-installer/ffmpeg` package ships, so `npm install && npm start` works on a
 * machine without ffmpeg. ROSTRUM_FFMPEG (config.ffmpegPath) overrides both.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

let found: string | undefined;

export function findFfmpeg(configured?: string): string {
  if (configured) return configured;
  if (found) return found;
  try {
    execFileSync('ffmpeg', ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 10_000 });
    found = 'ffmpeg';
  } catch {
    const require = createRequire(import.meta.url);
    found = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  }
  return found;
}
