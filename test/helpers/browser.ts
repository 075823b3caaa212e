/**
 * A real browser for tests: Debian's Chromium (installed by `npm test` through
 * scripts/system-packages/test.txt), driven by playwright-core. Its microphone is fake: a WAV file
 * we write, looped, so what it says can be measured at the other end.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = process.env.ROSTRUM_CHROMIUM ?? '/usr/bin/chromium';

/**
 * `noMicrophone`: no fake devices, so getUserMedia fails as on a machine without (or denying) one.
 * `autoplay`: 'allowed' (the default here) plays sound without a gesture; 'gesture' is the policy
 * of phones (mobile Chrome, Safari): an element plays sound only once a play() of its own was
 * called in a click or key press, which then unlocks it.
 * `cgroup`: a cgroup's `cgroup.procs` file the browser joins before it starts, with every process
 * it starts (bench/device-share.ts: a listener's browser in a benchmark stands for a device of its
 * own, so its bursts must not take the server's share of the box).
 */
export async function launchBrowser(
  options: { microphoneWav?: string; noMicrophone?: boolean; args?: string[]; autoplay?: 'allowed' | 'gesture'; cgroup?: string } = {},
): Promise<Browser> {
  return chromium.launch({
    executablePath: options.cgroup ? confinedChromium(options.cgroup) : CHROMIUM,
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

/**
 * A wrapper that moves itself into a cgroup and then becomes Chromium, so every process Chromium
 * forks starts inside. (Playwright launches an executable with the browser's own arguments and
 * pipes, so a wrapper that execs is the one place to do it.)
 */
function confinedChromium(procs: string): string {
  const wrapper = path.join(os.tmpdir(), `rostrum-chromium-${process.pid}.sh`);
  fs.writeFileSync(wrapper, `#!/bin/sh\necho $$ > ${JSON.stringify(procs)} || exit 1\nexec ${JSON.stringify(CHROMIUM)} "$@"\n`, {
    mode: 0o755,
  });
  return wrapper;
}
