/**
 * A directory on a disk that fails on demand (faulty-fs.py, a FUSE file system over a backing
 * directory): `fail('EIO', 'broadcasts/')` makes every change to a file whose path contains
 * `broadcasts/` fail with EIO until `heal()`. Needs /dev/fuse and Debian's python3-fusepy.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, tempDir } from './server.js';

export interface FaultyDir {
  /** The mount point: put the data directory here. */
  dir: string;
  fail(errno: 'EIO' | 'ENOSPC' | 'EROFS', pathFragment: string): void;
  heal(): void;
  unmount(): Promise<void>;
}

function mounted(dir: string): boolean {
  return fs
    .readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === dir);
}

export async function mountFaultyDir(): Promise<FaultyDir> {
  const root = tempDir('rostrum-faulty-');
  const backing = path.join(root, 'backing');
  const dir = path.join(root, 'mnt');
  const control = path.join(root, 'control');
  fs.mkdirSync(backing, { mode: 0o700 });
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.writeFileSync(control, '');
  const script = path.join(ROOT, 'test/helpers/faulty-fs.py');
  // Debian's python3 (the fusepy package is for it), not one a version manager put first on PATH.
  const child: ChildProcess = spawn('/usr/bin/python3', [script, backing, dir, control], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const deadline = Date.now() + 10_000;
  while (!mounted(dir)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill();
      throw new Error(`faulty-fs did not mount: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    dir,
    fail: (errno, fragment) => fs.writeFileSync(control, `${errno} ${fragment}`),
    heal: () => fs.writeFileSync(control, ''),
    unmount: async () => {
      fs.writeFileSync(control, '');
      if (mounted(dir)) execFileSync('umount', ['-l', dir]);
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
