/** CPU time of processes from /proc (Linux), for the CPU figures. */
import fs from 'node:fs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** utime + stime of a process, in seconds (Linux /proc; clock ticks are 100 Hz on Linux). */
export function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The processes whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // The process exited between the listing and the read.
    }
  }
  return children;
}

/** CPU seconds of a process and its children (nginx: the master and its workers), from /proc. */
export function treeCpuSeconds(pid: number): number {
  return childrenOf(pid).reduce((total, child) => total + treeCpuSeconds(child), cpuSeconds(pid));
}

/** The same to the nanosecond (schedstat: see runSeconds), for a tree whose processes outlive the window (nginx). */
export function treeRunSeconds(pid: number): number {
  return childrenOf(pid).reduce((total, child) => total + treeRunSeconds(child), runSeconds(pid));
}

/** A process's CPU over the next `seconds`, as % of one core. */
export async function cpuPercent(pid: number, seconds: number): Promise<number> {
  const before = cpuSeconds(pid);
  const started = performance.now();
  await sleep(seconds * 1000);
  return ((cpuSeconds(pid) - before) / ((performance.now() - started) / 1000)) * 100;
}

/**
 * Time a process's threads have run, in seconds, to the nanosecond (Linux schedstat, summed over
 * its live threads). For small figures: utime + stime count 10 ms ticks, which over a 5 s window
 * is ±0.2 % of a core — a tenth of the mixer's whole goal. A thread that has exited no longer
 * counts, so this is for processes whose threads live as long as they do (ffmpeg).
 */
export function runSeconds(pid: number): number {
  let ns = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // The thread exited between the listing and the read.
    }
  }
  return ns / 1e9;
}
