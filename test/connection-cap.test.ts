/**
 * Connections per client address, capped (issue 25). Before, one address could hold any number of
 * connections open (idle keep-alives, slow requests) and so a node's descriptors and memory. The
 * server listens on the lab's internet (test/helpers/netns.ts) and a client on another host of it
 * opens connections that send nothing: past ROSTRUM_ADDRESS_CONNECTIONS each new one is answered
 * 429 connection_limit in the API's shape (Retry-After) and closed; one closed frees a place at
 * once; another address has its own places; loopback peers (the operator's own proxy) are not counted.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { isRoot, Lab, ROOT_IP } from './helpers/netns.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CAP = 5;
let lab: Lab;
let t: TestServer;
let port: number;

before(async () => {
  t = await startTestServer({ host: '0.0.0.0', addressConnections: CAP });
  port = Number(new URL(t.url).port);
  lab = Lab.create();
});

after(async () => {
  lab?.destroy();
  await t?.close();
});

/**
 * Run inside a namespace: opens `n` idle connections to the server, then one that asks for /healthz;
 * prints, as JSON, what each idle connection heard within a second and what the asking one got.
 */
const CLIENT = `
const net = require('node:net');
const [host, port, n] = process.argv.slice(1);
const heard = [];
const sockets = [];
const open = (i) => new Promise((resolve) => {
  const s = net.connect(Number(port), host);
  let text = '';
  s.on('data', (d) => { text += d; });
  s.on('error', () => {});
  s.on('connect', () => { sockets.push(s); setTimeout(() => { heard[i] = text; resolve(); }, 300); });
});
(async () => {
  for (let i = 0; i < Number(n); i++) await open(i);
  await new Promise((r) => setTimeout(r, 700));
  for (let i = 0; i < heard.length; i++) heard[i] = heard[i] || '';
  // Close the first, then ask on a fresh connection.
  sockets[0].destroy();
  await new Promise((r) => setTimeout(r, 200));
  const asked = await new Promise((resolve) => {
    const s = net.connect(Number(port), host);
    let text = '';
    s.on('data', (d) => { text += d; });
    s.on('connect', () => s.write('GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n'));
    s.on('close', () => resolve(text));
    s.on('error', () => resolve(text));
  });
  console.log(JSON.stringify({ heard, asked }));
  for (const s of sockets) s.destroy();
})();
`;

test('an address holds at most ROSTRUM_ADDRESS_CONNECTIONS connections; the next are refused with a coded 429, a closed one frees a place', {
  skip: !isRoot() && 'needs root (ip netns)',
}, async () => {
  const a = lab.addHost('a', 10);
  const b = lab.addHost('b', 11);
  // Spawned, not run synchronously: the server runs in this process and must answer meanwhile.
  const run = (ns: string, n: number) =>
    new Promise<{ heard: string[]; asked: string }>((resolve, reject) => {
      const child = lab.spawn(ns, [process.execPath, '-e', CLIENT, ROOT_IP, String(port), String(n)], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`client exited ${code}`))));
    });

  const first = await run(a, CAP + 3);
  const refused = first.heard.filter((text) => text.startsWith('HTTP/1.1 429'));
  assert.equal(refused.length, 3, `the three past the cap are refused: ${JSON.stringify(first.heard)}`);
  assert.deepEqual(first.heard.slice(0, CAP), Array(CAP).fill(''), 'the first five are held, unanswered (they asked nothing)');
  const answer = refused[0]!;
  assert.match(answer, /retry-after: 5/i);
  assert.equal(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).error.code, 'connection_limit');
  assert.match(first.asked, /^HTTP\/1.1 200/, 'one closed: the next connection is served');

  // Another address, at the same time as a's: its own places.
  const second = await run(b, 2);
  assert.deepEqual(second.heard, ['', '']);
  assert.match(second.asked, /^HTTP\/1.1 200/);
});

test("loopback peers are not counted (the operator's own proxy or tools)", async () => {
  const sockets = await Promise.all(
    Array.from(
      { length: CAP * 3 },
      () =>
        new Promise<net.Socket>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const answer = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(answer.status, 200);
  for (const s of sockets) s.destroy();
});
