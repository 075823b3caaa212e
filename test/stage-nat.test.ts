/**
 * The stage across real networks, in network namespaces: the server sits on a private address behind
 * a 1:1 NAT (as a cloud VM does) and announces its public address (ROSTRUM_RTC_ANNOUNCED_IP); speaker
 * bots — the real `rostrum bot speak` — sit in other networks. They hear each other and the broadcast
 * carries both. Then one speaker's network drops UDP: it reaches the stage through a real coturn over
 * TCP (the shipped configuration, with the credential /rtc minted), or over ICE-TCP straight to the
 * server through the NAT, and is heard. Needs root (ip netns, iptables), as CI has.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListenerBot } from '../src/bots/listener-bot.js';
import { goertzel } from '../src/bots/tone.js';
import { readWav } from '../src/bots/wav.js';
import { createToken } from '../src/control/tokens.js';
import { findFfmpeg } from '../src/media/ffmpeg.js';
import { type Coturn, startCoturn } from './helpers/coturn.js';
import { Api } from './helpers/http.js';
import { INTERNET, isRoot, Lab } from './helpers/netns.js';
import { type ChildServer, runCli, spawnServer, tempDir } from './helpers/server.js';

const KEY = 'nat-test-key';
const SECRET = 'nat-test-secret-0123456789abcdef0123456789';
const TURN_SECRET = 'nat-test-turn-secret-0123456789';
const PRESENT = 2e-3;
const ABSENT = 2e-4;

interface SpokeResult {
  code: number | null;
  stderr: string;
  path: { candidateType: string; protocol: string; remote: string } | undefined;
  heard: Buffer;
}

describe('speakers across NAT and UDP-blocking networks', { skip: isRoot() ? false : 'needs root for network namespaces' }, () => {
  let lab: Lab;
  let server: ChildServer;
  let turn: Coturn;
  let api: Api;
  let publicUrl: string;
  let id: string;
  let spk1: string;
  let spk2: string;
  const dir = tempDir('rostrum-nat-');
  const env = { ROSTRUM_API_KEY: KEY, ROSTRUM_API_SECRET: SECRET };

  before(async () => {
    lab = Lab.create();
    const srv = lab.addServerBehindNat('srv', 1);
    spk1 = lab.addHost('spk1', 11);
    spk2 = lab.addHost('spk2', 12);
    const turnNs = lab.addHost('turn', 3);
    turn = await startCoturn({ ip: `${INTERNET}.3`, port: 3478, tlsPort: 5349, secret: TURN_SECRET, netns: turnNs });
    publicUrl = `http://${srv.publicIp}:8080`;
    server = await spawnServer(
      path.join(dir, 'data'),
      {
        ...env,
        ROSTRUM_HOST: '0.0.0.0',
        ROSTRUM_PUBLIC_URL: publicUrl,
        ROSTRUM_RTC_ANNOUNCED_IP: srv.publicIp,
        ROSTRUM_RTC_PORT_RANGE: '50000-50019',
        ROSTRUM_TURN_URLS: `${turn.urls.udp},${turn.urls.tcp}`,
        ROSTRUM_TURN_SECRET: TURN_SECRET,
      },
      8080,
      ['ip', 'netns', 'exec', srv.ns],
    );
    api = new Api(publicUrl);
    const operator = createToken({ apiKey: KEY, apiSecret: SECRET, identity: 'operator', operator: true, ttlSeconds: 3600 });
    const created = await api.post('/api/spaces', {
      token: operator,
      body: { title: 'Across NAT', host: { identity: 'h' }, startNow: true },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    id = created.body.id;
  });

  after(async () => {
    server?.child.kill('SIGTERM');
    await server?.exited;
    await turn?.stop();
    lab?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** `rostrum bot speak` in namespace `ns`: its exit, the ICE path it took and what it heard. */
  async function speak(ns: string, identity: string, hz: number, seconds: number, flags: string[] = []): Promise<SpokeResult> {
    const wav = path.join(dir, `${identity}.wav`);
    const run = await runCli(
      [
        'bot',
        'speak',
        '--server',
        publicUrl,
        '--space',
        id,
        '--identity',
        identity,
        '--tone',
        String(hz),
        '--seconds',
        String(seconds),
        '--listen-wav',
        wav,
        ...flags,
      ],
      env,
      ['ip', 'netns', 'exec', ns],
    );
    const report = run.code === 0 ? JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') : {};
    return { code: run.code, stderr: run.stderr, path: report.path, heard: fs.existsSync(wav) ? readWav(wav) : Buffer.alloc(0) };
  }

  /** What the broadcast carries for `seconds`, as a player on the test's own host hears it. */
  async function listen(seconds: number): Promise<{ hz440: number; hz660: number; stalls: number }> {
    const { pcm, report } = await ListenerBot.listen({ server: publicUrl, space: id, seconds, ffmpeg: findFfmpeg(undefined) });
    // The listener tuned in to a live broadcast: measure its last two seconds, when both speak.
    const tail = pcm.subarray(Math.max(0, pcm.length - 2 * 48_000 * 2));
    return { hz440: goertzel(tail, 440), hz660: goertzel(tail, 660), stalls: report.stalls };
  }

  /** Speaker 1 on UDP at 440 Hz beside speaker 2 (`flags`) at 660 Hz; both heard by each other and in the broadcast. */
  async function conversation(flags: string[]): Promise<{ one: SpokeResult; two: SpokeResult }> {
    const one = speak(spk1, 'one', 440, 18);
    const two = speak(spk2, `two${flags.join('')}`, 660, 18, flags);
    // The bots take a few seconds to be seated and connect (ICE-TCP through the NAT longest, more so
    // on a busy machine): listen once both are on air, again if one is not yet.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    let broadcast = await listen(4);
    for (let i = 0; i < 2 && !(broadcast.hz440 > PRESENT && broadcast.hz660 > PRESENT); i++) broadcast = await listen(3);
    const [a, b] = await Promise.all([one, two]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.ok(goertzel(a.heard, 660) > PRESENT, `speaker 1 hears speaker 2 (${goertzel(a.heard, 660)})`);
    assert.ok(goertzel(a.heard, 440) < ABSENT, 'and not itself');
    assert.ok(goertzel(b.heard, 440) > PRESENT, `speaker 2 hears speaker 1 (${goertzel(b.heard, 440)})`);
    assert.ok(broadcast.hz440 > PRESENT && broadcast.hz660 > PRESENT, `the broadcast carries both: ${JSON.stringify(broadcast)}`);
    return { one: a, two: b };
  }

  test('two speakers in other networks reach the server behind NAT at its announced address, hear each other, and the broadcast carries both', async () => {
    const { one, two } = await conversation([]);
    for (const spoke of [one, two]) {
      assert.equal(spoke.path?.protocol, 'udp', JSON.stringify(spoke.path));
      assert.match(spoke.path?.remote ?? '', new RegExp(`^${INTERNET}\\.1:500(0\\d|1\\d)$`), 'the announced address, a port of the range');
    }
  });

  test('a speaker whose network drops UDP reaches the stage through coturn over TCP, and is heard', async () => {
    lab.blockUdp(spk2);
    try {
      const { two } = await conversation(['--turn-transport', 'tcp']);
      assert.equal(two.path?.candidateType, 'relay', JSON.stringify(two.path));
    } finally {
      lab.unblockUdp(spk2);
    }
  });

  test('a speaker whose network drops UDP reaches the stage over ICE-TCP straight through the NAT, and is heard', async () => {
    lab.blockUdp(spk2);
    try {
      const { two } = await conversation(['--ice-tcp']);
      assert.equal(two.path?.protocol, 'tcp', JSON.stringify(two.path));
      assert.match(two.path?.remote ?? '', new RegExp(`^${INTERNET}\\.1:`));
    } finally {
      lab.unblockUdp(spk2);
    }
  });
});
