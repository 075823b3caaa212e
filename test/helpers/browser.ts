/**
 * A real browser for tests: Debian's Chromium (installed by `npm test` through
 * scripts/system-packages/test.txt), driven by playwright-core. Its microphone is fake: a WAV file
 * we write, looped, so what it says can be measured at the other end.
 */
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.ROSTRUM_CHROMIUM ?? '/usr/bin/chromium';

/**
 * `noMicrophone`: no fake devices, so getUserMedia fails as on a machine without (or denying) one.
 * `autoplay`: 'allowed' (the default here) plays sound without a gesture; 'gesture' is the policy
 * of phones (mobile Chrome, Safari): an element plays sound only once a play() of its own was
 * called in a click or key press, which then unlocks it.
 */
export async function launchBrowser(
  options: { microphoneWav?: string; noMicrophone?: boolean; args?: string[]; autoplay?: 'allowed' | 'gesture' } = {},
): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...(options.noMicrophone ? [] : ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']),
      `--autoplay-policy=${options.autoplay === 'gesture' ? 'user-gesture-required' : 'no-user-gesture-required'}`,
      // ICE over 127.0.0.1, like every other stage test: Chromium skips loopback candidates otherwise.
      '--allow-loopback-in-peer-connection',
      ...(options.microphoneWav ? [`--use-file-for-fake-audio-capture=${options.microphoneWav}`] : []),
      ...(options.args ?? []),
    ],
  });
}
