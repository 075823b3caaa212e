/**
 * A packet capture with tcpdump (we are root in tests and CI): every packet matching a BPF filter, on
 * every interface (or inside a network namespace), one line each. For tests that must show that
 * something is never sent.
 */
import { spawn } from 'node:child_process';

export interface Capture {
  /** The packets seen so far, as tcpdump printed them. */
  packets(): string[];
  stop(): Promise<string[]>;
}

export async function capture(filter: string, options: { netns?: string; iface?: string } = {}): Promise<Capture> {
  const command = ['tcpdump', '-i', options.iface ?? 'any', '-n', '-l', '--immediate-mode', '-q', filter];
  const [bin, ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...command] : command;
  const child = spawn(bin!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 5000);
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tcpdump exited with ${code}: ${err}`));
    });
  });
  const packets = () => out.split('\n').filter((line) => line.trim() !== '');
  return {
    packets,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        await exited;
      }
      return packets();
    },
  };
}
