#!/usr/bin/env node
// `npm run screenshots`: the web app's pages at desktop and phone width, into docs/screenshots/.
// A real server on 127.0.0.1 with a fresh data directory; bot speakers make a live stage; Debian's
// Chromium takes the pictures (emoji need Debian's fonts-noto-color-emoji). Run after `npm run build`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SpeakerBot } from '../dist/src/bots/speaker-bot.js';
import { loadConfig } from '../dist/src/config.js';
import { createToken } from '../dist/src/control/tokens.js';
import { startServer } from '../dist/src/server.js';
import { launchBrowser } from '../dist/test/helpers/browser.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const out = path.join(root, 'docs/screenshots');
fs.mkdirSync(out, { recursive: true });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const server = await startServer(
  loadConfig({ port: 0, host: '127.0.0.1', dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'rostrum-shots-')), logLevel: 'silent' }, {}),
);
const creds = server.credentials;
const operator = createToken({ ...creds, identity: 'operator', operator: true });
const call = async (method, url, token, body) => {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return res.json().catch(() => ({}));
};
const create = (body) => call('POST', '/api/spaces', operator, body);

const live = await create({ title: 'Launch night: what we shipped', host: { identity: 'hana', name: 'Hana Okafor' }, startNow: true });
const bots = [];
for (const [identity, name, hz, role] of [
  ['leo', 'Leo Martins', 440, 'cohost'],
  ['mia', 'Mia Chen', 660, 'speaker'],
  ['sam', 'Sam Rivera', 550, 'speaker'],
]) {
  const token = createToken({ ...creds, identity, name, space: live.id, role });
  await call('POST', `/api/spaces/${live.id}/stage`, token);
  if (identity !== 'sam') await call('POST', `/api/spaces/${live.id}/participants/${identity}/unmute`, token);
  bots.push(await SpeakerBot.join({ server: server.url, token, toneHz: hz, keepHeard: false }));
}
for (const emoji of ['🔥', '🔥', '👏', '❤️']) {
  await fetch(`${server.url}/api/spaces/${live.id}/reactions`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${(await call('POST', `/api/spaces/${live.id}/join`, '')).token}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ emoji }),
  });
}
const asker = (await call('POST', `/api/spaces/${live.id}/join`, '')).token;
await call('POST', `/api/spaces/${live.id}/requests`, asker);
await create({
  title: 'Ask me anything: audio at scale',
  host: { identity: 'hana', name: 'Hana Okafor' },
  scheduledStart: new Date(Date.now() + 2 * 3600_000).toISOString(),
});
const replay = await create({ title: 'Weekly standup, recorded', host: { identity: 'hana', name: 'Hana Okafor' }, startNow: true });
const scheduled = await create({
  title: 'Friday office hours',
  host: { identity: 'hana', name: 'Hana Okafor' },
  scheduledStart: new Date(Date.now() + 26 * 3600_000).toISOString(),
});
await sleep(5000);
await call('POST', `/api/spaces/${replay.id}/end`, replay.hostToken);
await sleep(2000);

const browser = await launchBrowser();
const pages = [
  ['home', `${server.url}/`],
  ['lobby', `${server.url}/s/${scheduled.id}`],
  ['listener', `${server.url}/s/${live.id}`],
  ['host', live.hostUrl],
  ['replay', `${server.url}/s/${replay.id}`],
];
for (const [width, height, tag] of [
  [1280, 860, 'desktop'],
  [390, 844, 'phone'],
]) {
  for (const [name, url] of pages) {
    const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1, colorScheme: 'light' });
    const page = await context.newPage();
    page.on('dialog', (d) => void d.dismiss());
    await page.goto(url);
    await sleep(name === 'host' || name === 'listener' ? 3500 : 1500);
    await page.screenshot({ path: path.join(out, `${name}-${tag}.png`), fullPage: tag === 'phone' });
    await context.close();
  }
}
await browser.close();
for (const bot of bots) await bot.close();
await server.close();
console.log(`screenshots in ${path.relative(root, out)}: ${fs.readdirSync(out).join(', ')}`);
process.exit(0);
