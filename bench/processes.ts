/**
 * Child processes of a bench run. Every server under test runs as its own process (so the load
 * generator, the orchestrator and the server never share an event loop); this module spawns them,
 * waits for the JSON line that says where they listen, and makes sure every child dies with the run:
 * stopAll() in a finally, SIGTERM to children on SIGINT/SIGTERM, and SIGKILL on a plain exit
 * (which also removes the run's temporary folders).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** The project folder (this file runs from dist/bench/). */
export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

/** A temporary folder removed by removeTempDir, or at the latest when the run exits. */
export function tempDir(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Registers a child so stopAll and the exit handlers reach it. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export interface ListeningChild {
  child: ChildProcess;
  url: string;
  /** The last few kilobytes the child wrote to stderr, for error messages. */
  stderrTail(): string;
  stop(): Promise<void>;
}

/**
 * Runs `node <args>` and resolves once a stdout line parses as JSON and `readyUrl` finds a URL in it.
 * Stdout keeps being drained afterwards so a chatty child never blocks on a full pipe.
 */
export async function spawnListening(
  label: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  readyUrl: (entry: Record<string, unknown>) => string | undefined,
  timeoutMs = 15_000,
): Promise<ListeningChild> {
  const child = track(spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let tail = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-4096);
  });
  const lines = createInterface({ input: child.stdout! });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${label} did not start within ${timeoutMs} ms\n${tail}`)), timeoutMs);
      lines.on('line', (line) => {
        let entry: unknown;
        try {
          entry = JSON.parse(line);
        } catch {
          return;
        }
        const url = entry && typeof entry === 'object' ? readyUrl(entry as Record<string, unknown>) : undefined;
        if (url) {
          clearTimeout(timer);
          resolve(url);
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${label} exited (${code ?? signal}) before listening\n${tail}`));
      });
    });
    return { child, url, stderrTail: () => tail, stop: () => stop(child) };
  } catch (err) {
    await stop(child);
    throw err;
  }
}

export interface Daemon<T> {
  pid: number;
  /** What the probe said when the daemon first answered (its version). */
  answer: T;
  stop(): Promise<void>;
}

/**
 * Runs a peer's daemon (janus, icecast2) in the foreground, keeping the tail of what it prints, and
 * resolves once `probe` gets an answer from it; rejects if it cannot start, exits, or does not answer
 * within `timeoutMs`. Stopping it also removes `dir`, its temp folder.
 */
export async function startDaemon<T>(
  command: string,
  args: string[],
  dir: string,
  probe: () => Promise<T>,
  timeoutMs: number,
): Promise<Daemon<T>> {
  const child = track(spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4096);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', resolve);
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${command} exited (${child.exitCode}) before it answered\n${tail}`);
    if (Date.now() > deadline) {
      await stop(child);
      throw new Error(`${command} did not answer within ${timeoutMs} ms\n${tail}`);
    }
    try {
      const answer = await probe();
      return {
        pid: child.pid!,
        answer,
        stop: async () => {
          await stop(child);
          removeTempDir(dir);
        },
      };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** SIGTERM, then SIGKILL if the child has not exited within graceMs. */
export async function stop(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), graceMs);
  });
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => stop(child)));
}

/** Ctrl-C or a kill stops the children first (a second signal exits at once); any exit SIGKILLs survivors. */
export function installExitHandlers(): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    if (stopping) process.exit(code);
    stopping = true;
    process.stderr.write(`\nbench: ${signal}, stopping child processes\n`);
    void stopAll().finally(() => process.exit(code));
  };
  process.on('SIGINT', () => onSignal('SIGINT', 130));
  process.on('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
}
