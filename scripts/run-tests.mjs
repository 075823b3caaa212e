#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's built-in test runner, after making
// sure the system packages the tests need are installed. Node 20's --test takes no globs, hence this.
// One file at a time: the media tests (edge crowds, browsers, real-time audio) measure timing and
// must not share the two cores with another heavy file.
import { spawnSync } from 'node:child_process';
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
const result = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-concurrency=1', ...files], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, ROSTRUM_LOG_LEVEL: process.env.ROSTRUM_LOG_LEVEL ?? 'silent' },
});
process.exit(result.status ?? 1);
