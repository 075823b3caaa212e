/**
 * The mixer CPU measurement's own process (see mix-cpu.ts):
 * `node dist/bench/mix-cpu-child.js <spaces> <speakers> <seconds>` prints one MixCpu as JSON.
 */
import { mixCpu } from './mix-cpu.js';

const [spaces, speakers, seconds] = process.argv.slice(2).map(Number);
if (!Number.isInteger(spaces) || spaces! < 1 || !Number.isInteger(speakers) || speakers! < 0 || !(seconds! > 0)) {
  process.stderr.write('usage: node dist/bench/mix-cpu-child.js <spaces ≥ 1> <speakers ≥ 0> <seconds > 0>\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await mixCpu(spaces!, speakers!, seconds!))}\n`);
