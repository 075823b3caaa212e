/**
 * The native addon this checkout already compiled (better-sqlite3), offered to a fresh `npm ci` the
 * way prebuild-install looks for a local prebuild (npm_config_better_sqlite3_local_prebuilds): an
 * install test then spends its time on what it tests — which packages a production install gets, a
 * walk-through's steps — not on compiling SQLite again (about 90 s each on these machines, without
 * a download to fall back on). Nothing is offered when this checkout has no compiled addon.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './server.js';

let offered: Record<string, string> | undefined;

export function localPrebuilds(): Record<string, string> {
  if (offered) return offered;
  const pkgDir = path.join(ROOT, 'node_modules/better-sqlite3');
  const binary = 'build/Release/better_sqlite3.node';
  if (!fs.existsSync(path.join(pkgDir, binary))) return {};
  const { version } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  const dir = tempDir('rostrum-prebuilds-');
  fs.chmodSync(dir, 0o755);
  // prebuild-install's name for it: {name}-v{version}-{runtime}-v{abi}-{platform}{libc}-{arch}.tar.gz
  const tarball = path.join(dir, `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`);
  const tar = spawnSync('tar', ['-czf', tarball, '-C', pkgDir, binary], { encoding: 'utf8' });
  if (tar.status !== 0) return {};
  offered = { npm_config_better_sqlite3_local_prebuilds: dir };
  return offered;
}
