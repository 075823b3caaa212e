/**
 * docs/deploy.md, followed literally: every `sh` block of the page, in order, in one bash session as
 * root on a "server" — a network namespace behind a 1:1 NAT (test/helpers/netns.ts), its /etc, /opt,
 * /var, /usr, /root, /home and /srv overlays on this machine's, so the walk-through installs for real
 * (apt-get, a clone, npm ci, users, /etc files) and leaves this machine as it was. The lab's internet
 * is connected to the real one for the package registries. Blocks the page marks as not run here are
 * skipped, each saying why; the values block is replaced by the test's own (the site's name, the
 * public address, the repository: this checkout's commit). systemd is not running here:
 * test/helpers/fake-systemctl.sh starts the three services as their units do (Rostrum's from the
 * shipped unit file). Then, as the page's last block says, a bot speaker in another network joins the
 * space the walk-through opened, over HTTPS with the page's self-signed certificate, while a second
 * one on a network that drops UDP comes in through the page's coturn over TCP; a bot listener in a
 * third network plays the broadcast through the edge and hears both.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { INTERNET, isRoot, Lab } from './helpers/netns.js';
import { localPrebuilds } from './helpers/prebuilds.js';
import { ROOT, tempDir } from './helpers/server.js';

const DOMAIN = 'rostrum.test';
const OVERLAID = ['etc', 'opt', 'var', 'usr', 'root', 'home', 'srv'];

interface Block {
  heading: string;
  /** The HTML comment just before the block, if any. */
  marker: string | undefined;
  code: string;
}

/** The `sh` blocks of a Markdown page, each with its section heading and the comment before it. */
function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  let heading = '';
  let previous = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('#')) heading = line.replace(/^#+\s*/, '');
    if (line.trim() === '```sh') {
      const end = lines.indexOf('```', i + 1);
      const marker = /^<!--\s*(.*?)\s*-->$/.exec(previous)?.[1];
      blocks.push({ heading, marker, code: lines.slice(i + 1, end).join('\n') });
      i = end;
      previous = '';
      continue;
    }
    if (line.trim() !== '') previous = line.trim();
  }
  return blocks;
}

/** Runs `command` in namespace `ns` with `env`, from this checkout; resolves with its exit and output. */
function inNamespace(ns: string, command: string, env: Record<string, string>, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'setsid', 'bash', '-c', command], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('docs/deploy.md followed literally on a server behind NAT', {
  skip: isRoot() ? false : 'needs root for namespaces and mounts',
}, () => {
  const dir = tempDir('rostrum-deploy-');
  const blocks = shellBlocks(fs.readFileSync(path.join(ROOT, 'docs/deploy.md'), 'utf8'));
  let lab: Lab;
  let srvNs: string;
  let walkthrough: { code: number | null; output: string };
  const upper = (p: string) => path.join(dir, 'upper', p);

  before(async () => {
    lab = Lab.create();
    const srv = lab.addServerBehindNat('srv', 1);
    srvNs = srv.ns;
    lab.uplink();
    const values = [
      `export DOMAIN=${DOMAIN}`,
      `export PUBLIC_IP=${srv.publicIp}`,
      // The repository: this checkout (its committed state, as a clone of it holds).
      `export ROSTRUM_GIT=${ROOT}`,
    ].join('\n');
    const steps = blocks
      .filter((b) => !b.marker?.startsWith('not run by the test') && !b.marker?.startsWith('run by the test in other namespaces'))
      .map((b) => `echo "### ${b.heading.replace(/["$`\\]/g, '')}"\n${b.marker?.startsWith('your values') ? values : b.code}`);
    const shim = path.join(dir, 'shim');
    fs.mkdirSync(shim, { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'test/helpers/fake-systemctl.sh'), path.join(shim, 'systemctl'));
    fs.chmodSync(shim, 0o755);
    fs.chmodSync(path.join(shim, 'systemctl'), 0o755);
    const script = path.join(dir, 'walkthrough.sh');
    fs.writeFileSync(script, `set -euo pipefail\nexport PATH=${shim}:$PATH\ncd /root\n${steps.join('\n')}\n`);
    const mounts = OVERLAID.map((d) => {
      for (const layer of ['upper', 'work']) fs.mkdirSync(path.join(dir, layer, d), { recursive: true });
      return `mount -t overlay overlay -o lowerdir=/${d},upperdir=${path.join(dir, 'upper', d)},workdir=${path.join(dir, 'work', d)} /${d}`;
    });
    // The server's own /run (pid files, the stand-in systemd's state) and its own mounts, private.
    const setup = [...mounts, 'mount -t tmpfs tmpfs /run', `exec bash ${script}`].join(' && ');
    const run = spawnSync('ip', ['netns', 'exec', srvNs, 'unshare', '--mount', '--propagation', 'private', 'bash', '-c', setup], {
      encoding: 'utf8',
      timeout: 15 * 60_000,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...localPrebuilds() },
    });
    walkthrough = { code: run.status, output: `${run.stdout}\n${run.stderr}` };
    fs.writeFileSync(path.join(dir, 'walkthrough.log'), walkthrough.output);
  });

  after(() => {
    lab?.destroy(); // ends every process in the server's namespace, and with them its mounts
    if (!process.env.ROSTRUM_KEEP_DEPLOY) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('every block runs but those the page marks, each saying why', () => {
    const skipped = blocks.filter((b) => b.marker?.startsWith('not run by the test'));
    for (const b of skipped) assert.match(b.marker!, /^not run by the test: \S/, `a skipped block says why (${b.heading})`);
    assert.ok(blocks.length - skipped.length >= 10, 'most of the page runs');
    assert.equal(walkthrough.code, 0, walkthrough.output.slice(-4000));
    assert.match(walkthrough.output, /"status":"ready"/, 'Rostrum answers /readyz behind the edge');
    assert.match(walkthrough.output, /"status":"ok"/, 'the edge answers over HTTPS');
  });

  test('two speakers from other networks, one through TURN over TCP, are heard by a listener through the edge', async () => {
    const space = /^\{"id":"([A-Za-z0-9_-]+)".*$/m.exec(walkthrough.output)?.[1];
    assert.ok(space, 'space create --json printed the space');
    const creds = JSON.parse(fs.readFileSync(upper('var/lib/rostrum/credentials.json'), 'utf8')) as { apiKey: string; apiSecret: string };
    const env = {
      DOMAIN,
      SPACE: space,
      ROSTRUM_API_KEY: creds.apiKey,
      ROSTRUM_API_SECRET: creds.apiSecret,
      // The page's self-signed certificate, as its step 5 says the command needs.
      NODE_EXTRA_CA_CERTS: upper('etc/ssl/rostrum/fullchain.pem'),
    };
    const speaker = lab.addHost('spk', 11);
    const blocked = lab.addHost('blk', 12);
    lab.blockUdp(blocked);
    for (const ns of [speaker, blocked]) lab.setHosts(ns, { [DOMAIN]: `${INTERNET}.1` });
    const client = blocks.find((b) => b.marker?.startsWith('run by the test in other namespaces'));
    assert.ok(client, 'the page has a block for another machine');
    // The relayed speaker, as the page's note says (--relay --turn-transport tcp), at 660 Hz.
    const relayed = inNamespace(
      blocked,
      'npx rostrum bot speak --server "https://$DOMAIN" --space "$SPACE" --identity relayed --tone 660 --seconds 20 --relay --turn-transport tcp',
      env,
      60_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 6000));
    // The page's block as it is: a speaker at 440 Hz in the background, and a listener for 8 s.
    const heard = await inNamespace(speaker, client.code, env, 60_000);
    assert.equal(heard.code, 0, heard.output);
    const tones = /^tones:\s+(.*)$/m.exec(heard.output)?.[1] ?? '';
    assert.match(tones, /\b440 Hz/, `the listener hears the direct speaker: ${heard.output}`);
    assert.match(tones, /\b660 Hz/, `and the one relayed through coturn: ${heard.output}`);
    assert.match(heard.output, /stalls:\s+0 /, heard.output);
    const done = await relayed;
    assert.equal(done.code, 0, done.output);
    assert.equal(JSON.parse(done.output.trim().split('\n').pop() ?? '{}').path?.candidateType, 'relay', done.output);
  });
});
