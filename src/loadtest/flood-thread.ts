/**
 * The join flood's own thread (flood-worker.ts starts it): runs a JoinFlood from workerData, posts
 * its second every second and, when the run is over, its report with this thread's event-loop delay.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { FloodToParent, ParentToFlood } from './flood-worker.js';
import { type FloodOptions, JoinFlood } from './join-flood.js';
import { lagP99Ms } from './stats.js';

const port = parentPort!;
const flood = new JoinFlood(workerData as FloodOptions);
const lag = monitorEventLoopDelay({ resolution: 10 });
const post = (message: FloodToParent) => port.postMessage(message);

port.on('message', (message: ParentToFlood) => {
  if (message.type === 'stop') flood.stop();
  else if (message.type === 'tick') post({ type: 'second', second: flood.tick() });
  else if (message.type === 'run') {
    lag.enable();
    void flood.run().then(async () => {
      lag.disable();
      post({ type: 'done', report: { ...flood.report(), generatorLagP99Ms: lagP99Ms(lag) } });
      await flood.close();
      port.close();
    });
  }
});
