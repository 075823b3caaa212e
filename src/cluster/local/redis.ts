/**
 * A real Redis server for tests (and the local cluster): redis-server on a random port on 127.0.0.1,
 * nothing saved to disk, its data in a temp directory. It can be stopped and started again on the
 * same port (the "Redis away" tests); started again it is empty, as a Redis without persistence that
 * restarted would be.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { freePort, tempDir } from './util.js';

export interface TestRedis {
  port: number;
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = tempDir('rostrum-redis-');
  const port = await freePort();
  let child: ChildProcess | undefined;
  let log = '';
  const start = async (): Promise<void> => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout!.on('data', (c: Buffer) => {
      log += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      log += c.toString();
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const pong = await new Promise<boolean>((resolve) => {
        const socket = net.connect(port, '127.0.0.1');
        socket.once('connect', () => socket.write('PING\r\n'));
        socket.once('data', (d) => {
          socket.destroy();
          resolve(d.toString().startsWith('+PONG'));
        });
        socket.once('error', () => resolve(false));
      });
      if (pong) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not start on ${port}:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGKILL'); // as an outage would end it: nothing is saved
    await exited;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    destroy: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
