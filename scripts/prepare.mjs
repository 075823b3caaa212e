#!/usr/bin/env node
// npm runs `prepare` after `npm install` and `npm ci` in the project. With the development
// dependencies (the default install) it builds everything: the TypeScript into dist/ and the web app
// into dist/app/. A production install (`npm ci --omit=dev`) has no compiler: there the build must
// already be in place — made before the install, as the Dockerfile and docs/deploy.md do — and it is
// kept as it is; without one, the install fails saying how to make it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(path.join(root, 'package.json'));
const has = (name) => {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
};

if (has('typescript') && has('vite')) {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  process.exit(built.status ?? 1);
}
const needed = ['dist/src/cli/main.js', 'dist/app/index.html'];
const missing = needed.filter((file) => !existsSync(path.join(root, file)));
if (missing.length > 0) {
  process.stderr.write(
    `rostrum: no build (${missing.join(', ')} missing) and no build tools in this production install.\n` +
      'Build first with the development dependencies (npm ci && npm run build), then install with --omit=dev.\n',
  );
  process.exit(1);
}
process.stdout.write('rostrum: production install, using the build in dist/\n');
