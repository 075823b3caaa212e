#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's built-in test runner, after making
// sure the system packages the tests need are installed. Node 20's --test takes no globs, hence this.
// One file at a time: the media tests (edge crowds, browsers, real-time audio) measure timing and
// must not share the two cores with another heavy file.
//
// Each file runs in its own `node --test` under a deadline (ROSTRUM_TEST_FILE_TIMEOUT_S, default
// 600 s — the longest file takes about 4 min). A file whose tests all pass but whose process never
// ends (a socket or timer left open: a leak worth failing on) is killed with its whole process group
// and reported by name, instead of holding the run until CI's own limit.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const ensure = spawnSync('bash', [path.join(root, 'scripts/ensure-system-packages.sh'), 'test'], { stdio: 'inherit' });
if (ensure.status !== 0) process.exit(ensure.status ?? 1);

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return find(full);
    return name.endsWith('.test.js') ? [full] : [];
  });
}

const only = process.argv.slice(2);
const files = find(path.join(root, 'dist'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (files.length === 0) {
  console.error('no test files found under dist/; run "npm run build" first');
  process.exit(1);
}
const timeoutS = Number(process.env.ROSTRUM_TEST_FILE_TIMEOUT_S ?? 600);
let current; // the running file's process group

// A Ctrl-C or CI cancel reaches the running file's group too.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (current) {
      try {
        process.kill(-current, 'SIGKILL');
      } catch {}
    }
    process.exit(130);
  });
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=1', file], {
      stdio: 'inherit',
      cwd: root,
      detached: true, // its own process group, so a deadline kills what it started too
      env: { ...process.env, ROSTRUM_LOG_LEVEL: process.env.ROSTRUM_LOG_LEVEL ?? 'silent' },
    });
    current = child.pid;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, timeoutS * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ file: path.relative(root, file), code, signal, timedOut, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const results = [];
const suiteStarted = Date.now();
for (const file of files) {
  const result = await runFile(file);
  results.push(result);
  if (result.timedOut)
    console.error(`\n# ${result.file}: still running after ${timeoutS} s — killed (a test hung, or the process never ended)\n`);
}
const failed = results.filter((r) => r.code !== 0);
const slowest = [...results].sort((a, b) => b.seconds - a.seconds).slice(0, 5);
console.log(
  `\n# ${results.length} test files in ${((Date.now() - suiteStarted) / 60000).toFixed(1)} min; slowest: ${slowest.map((r) => `${r.file} ${r.seconds.toFixed(0)} s`).join(', ')}`,
);
if (failed.length > 0) {
  console.error(`# ${failed.length} failed: ${failed.map((r) => (r.timedOut ? `${r.file} (timed out)` : r.file)).join(', ')}`);
  process.exit(1);
}
