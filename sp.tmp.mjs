import { SpeakerBot } from './dist/src/bots/speaker-bot.js';
import { toneFrame } from './dist/src/bots/tone.js';
import { startRostrum, createLiveSpace, seat } from './dist/bench/rostrum.js';
import { cpuPercent } from './dist/bench/cpu.js';
const server = await startRostrum(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/sp2'] : []);
const id = await createLiveSpace(server, 'x');
const bots = [];
const roles = [['host','host'],['c1','cohost'],['c2','cohost'],...Array.from({length:10},(_,i)=>[`s${i}`,'speaker'])];
for (const [k, [who, role]] of roles.entries()) { const token = await seat(server, id, who, role); bots.push(await SpeakerBot.join({ server: server.url, token, frameAt: (i) => toneFrame(300 + 50 * k, i), keepHeard: false })); }
await new Promise(r => setTimeout(r, 3000));
console.log('server CPU', (await cpuPercent(server.child.pid, 10)).toFixed(1), '%');
for (const b of bots) await b.close();
await server.stop();
