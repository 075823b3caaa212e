/**
 * The listeners' devices' share of this box. A benchmark's listener clients (Chromium on the share
 * page, ffmpeg) stand for devices of their own; here they share the server's two cores. Chromium
 * raises its own display threads to nice −8 (it may, as root), so a page loading took a core's time
 * in a burst and stalled the server and the load generator by up to 300 ms (seen every time a lobby
 * page opened during the start suite's flood). `nice` cannot hold it; a CPU cgroup can: its
 * processes share the weight of one process at a quarter of the default's, however many threads and
 * priorities they have. Every process started from the cgroup stays in it.
 *
 * cgroup v2 (`cpu.weight`) or v1 (`cpu.shares`), whichever this machine mounts writable; where
 * neither is (a container without the controller), clients run unconfined and the bench says so.
 */
import fs from 'node:fs';
import path from 'node:path';

/** A quarter of a default process's weight (v1 shares 1024, v2 weight 100). */
const SHARE = 0.25;

export interface DeviceShare {
  /** The file a process writes its pid to, to join the group (its children follow). */
  procs: string;
  /** Moves a running process (and its future children) into the group. */
  join(pid: number): void;
}

let made: DeviceShare | null | undefined;

/** The group, made once per run; null where this machine lets us make none. */
export function deviceShare(): DeviceShare | null {
  if (made !== undefined) return made;
  made = null;
  const candidates: Array<{ dir: string; file: string; value: string }> = [
    { dir: '/sys/fs/cgroup/cpu', file: 'cpu.shares', value: String(Math.round(1024 * SHARE)) },
    { dir: '/sys/fs/cgroup', file: 'cpu.weight', value: String(Math.max(1, Math.round(100 * SHARE))) },
  ];
  for (const { dir, file, value } of candidates) {
    if (!fs.existsSync(path.join(dir, 'cgroup.procs'))) continue;
    // v2 needs the cpu controller delegated to the root's children.
    if (file === 'cpu.weight') {
      const controllers = path.join(dir, 'cgroup.subtree_control');
      try {
        if (!fs.readFileSync(controllers, 'utf8').split(/\s+/).includes('cpu')) fs.writeFileSync(controllers, '+cpu');
      } catch {
        continue;
      }
    }
    const group = path.join(dir, 'rostrum-bench-listeners');
    try {
      fs.mkdirSync(group, { recursive: true });
      fs.writeFileSync(path.join(group, file), value);
    } catch {
      continue;
    }
    const procs = path.join(group, 'cgroup.procs');
    made = { procs, join: (pid) => fs.writeFileSync(procs, String(pid)) };
    break;
  }
  return made;
}
