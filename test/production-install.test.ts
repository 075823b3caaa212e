/**
 * A production install, as docs/deploy.md and the Dockerfile make one: the checkout (what a fresh
 * clone holds) with its build, then `npm ci --omit=dev` — no compiler, no test tools — and `rostrum
 * serve` from it answers /readyz and plays its demo space. It fails if anything the server loads at
 * start-up is a development dependency, or if the install tries to build without its tools.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { ListenerBot } from '../src/bots/listener-bot.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import { localPrebuilds } from './helpers/prebuilds.js';
import { ROOT, tempDir } from './helpers/server.js';

describe('a production install (npm ci --omit=dev after a build)', () => {
  const dir = tempDir('rostrum-prod-');
  const app = path.join(dir, 'app');
  let url = '';
  let child: ReturnType<typeof spawn> | undefined;
  let install: { status: number | null; output: string };

  before(async () => {
    // The files a clone of this checkout holds (tracked, and new ones not ignored), and the build.
    const files = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0');
    for (const file of files.filter(Boolean)) {
      if (!fs.existsSync(path.join(ROOT, file))) continue; // deleted in the working tree
      fs.mkdirSync(path.dirname(path.join(app, file)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, file), path.join(app, file));
    }
    fs.cpSync(path.join(ROOT, 'dist'), path.join(app, 'dist'), { recursive: true });
    const ci = spawnSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], {
      cwd: app,
      encoding: 'utf8',
      timeout: 600_000,
      env: { ...process.env, ...localPrebuilds() },
    });
    install = { status: ci.status, output: `${ci.stdout}\n${ci.stderr}` };
  });
  after(async () => {
    child?.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 500));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('installs without the development dependencies, keeping the build', () => {
    assert.equal(install.status, 0, install.output.slice(-2000));
    assert.match(install.output, /production install, using the build in dist\//);
    for (const devOnly of ['typescript', 'vite', '@biomejs/biome', 'playwright-core']) {
      assert.ok(!fs.existsSync(path.join(app, 'node_modules', devOnly)), `${devOnly} is not installed`);
    }
  });

  test('rostrum serve --demo answers /readyz and its demo space plays', async () => {
    child = spawn(process.execPath, ['bin/rostrum.js', 'serve', '--demo', '--port', '0', '--data', path.join(dir, 'data')], {
      cwd: app,
      env: { ...process.env, ROSTRUM_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "Rostrum listening" within 20 s: ${stderr}`)), 20_000);
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        const entry = /^\{/.test(line) ? (JSON.parse(line) as { msg?: string; url?: string }) : {};
        if (entry.msg === 'Rostrum listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      });
      child!.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200, await ready.text());
    const live = (await (await fetch(`${url}/api/spaces?state=live`)).json()) as { spaces: Array<{ id: string; title: string }> };
    const demo = live.spaces.find((s) => s.title === 'Rostrum demo space');
    assert.ok(demo, JSON.stringify(live));
    // The demo bot takes a moment to get on stage; then the chime is on air.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const { report } = await ListenerBot.listen({ server: url, space: demo.id, seconds: 5, ffmpeg: findFfmpeg(undefined) });
    const chime = report.tones.filter((t) => [440, 554, 659, 880].some((hz) => Math.abs(t.hz - hz) < 15));
    assert.ok(chime.length >= 1, `the demo chime is heard: ${JSON.stringify(report.tones)}`);
    assert.equal(report.stalls, 0);
  });
});
