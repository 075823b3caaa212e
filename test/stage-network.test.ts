/**
 * The stage on a real network, on one machine: the server is an ICE-lite agent whose candidates sit
 * on its listen address (or the addresses it announces), on ports of ROSTRUM_RTC_PORT_RANGE; it
 * never sends anything to an address a speaker names; a speaker whose network allows only a relay
 * reaches the stage through a real coturn (the shipped configuration) with the credential `/rtc`
 * handed it; and coturn refuses a credential past its time or minted with another secret.
 * The same across NAT and with UDP blocked, in network namespaces: test/stage-nat.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { RTCPeerConnection } from 'werift';
import { SpeakerBot } from '../src/bots/speaker-bot.js';
import { goertzel } from '../src/bots/tone.js';
import { gatheringComplete, rtcConfig } from '../src/stage/rtc-config.js';
import { turnCredential } from '../src/stage/turn-credentials.js';
import { capture } from './helpers/capture.js';
import { type Coturn, startCoturn } from './helpers/coturn.js';
import { createSpace } from './helpers/fixture.js';
import { freePortRange } from './helpers/ports.js';
import { ROOT, startTestServer, type TestServer } from './helpers/server.js';
import { type BareStageClient, bareStageClient, candidatesOf } from './helpers/stage-client.js';

const PRESENT = 2e-3;
const ABSENT = 2e-4;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Seats `identity` as an unmuted speaker of space `id`; its token. */
async function seat(t: TestServer, id: string, identity: string): Promise<string> {
  const token = t.token(id, identity, 'speaker');
  assert.equal((await t.api.post(`/api/spaces/${id}/stage`, { token })).status, 200);
  assert.equal((await t.api.post(`/api/spaces/${id}/participants/${identity}/unmute`, { token })).status, 200);
  return token;
}

describe('the server’s candidates and ports', () => {
  let t: TestServer;
  let id: string;
  let range: [number, number];

  before(async () => {
    range = await freePortRange(2);
    t = await startTestServer({ rtcPortRange: range, rtcTcp: true });
    id = await createSpace(t, { live: true });
  });
  after(() => t.close());

  test('the answer is ICE-lite, with one UDP and one ICE-TCP host candidate on the listen address, on a port of the range', async () => {
    const client = await bareStageClient(t.url, await seat(t, id, 'a'));
    try {
      assert.ok(client.answer, JSON.stringify(client.error));
      assert.match(client.answer, /^a=ice-lite\r?$/m);
      const candidates = candidatesOf(client.answer);
      // Every bundled section repeats the transport's candidates: one UDP, one ICE-TCP.
      const distinct = [...new Set(candidates.map((c) => `${c.transport} ${c.address} ${c.port} ${c.type}`))].sort();
      assert.equal(distinct.length, 2, distinct.join(', '));
      assert.deepEqual(
        distinct.map((d) => d.split(' ').filter((_, i) => i !== 2)),
        [
          ['tcp', '127.0.0.1', 'host'],
          ['udp', '127.0.0.1', 'host'],
        ],
      );
      for (const c of candidates) assert.ok(c.port >= range[0] && c.port <= range[1], `port ${c.port} in ${range.join('-')}`);
      await client.connected();
    } finally {
      await client.close();
    }
  });

  test('a session beyond the port range is refused with rtc_unavailable, and gets a port once another leaves', async () => {
    const first = await bareStageClient(t.url, await seat(t, id, 'b'));
    const second = await bareStageClient(t.url, await seat(t, id, 'c'));
    const third = await bareStageClient(t.url, await seat(t, id, 'd'));
    try {
      assert.ok(first.answer && second.answer, 'two sessions fit a range of two ports');
      assert.equal(third.error?.code, 'rtc_unavailable', JSON.stringify(third.error));
      const firstPort = candidatesOf(first.answer).find((c) => c.transport === 'udp')?.port;
      await first.close();
      await sleep(200);
      const again = await bareStageClient(t.url, t.token(id, 'd', 'speaker'));
      try {
        assert.ok(again.answer, JSON.stringify(again.error));
        assert.equal(candidatesOf(again.answer).find((c) => c.transport === 'udp')?.port, firstPort, 'the freed port is taken again');
        await again.connected();
      } finally {
        await again.close();
      }
    } finally {
      await Promise.all([first.close(), second.close(), third.close()]);
    }
    await sleep(300);
    assert.ok(t.server.media.rtc.failures.ports_exhausted >= 1, JSON.stringify(t.server.media.rtc));
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    assert.match(metrics, /^rostrum_rtc_session_failures_total\{reason="ports_exhausted"\} [1-9]/m);
    assert.match(metrics, /^rostrum_rtc_ports\{state="total"\} 2$/m);
  });

  test('a port another program holds fails one offer, is set aside, and the next offer gets another', async () => {
    await sleep(300);
    const held = dgram.createSocket('udp4');
    // The pool hands ports out round-robin: hold both, free one, so whichever comes next one fails.
    await new Promise<void>((resolve) => held.bind(range[0], '127.0.0.1', () => resolve()));
    const other = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => other.bind(range[1], '127.0.0.1', () => resolve()));
    const failedBefore = t.server.media.rtc.failures.bind_failed;
    try {
      const refused = await bareStageClient(t.url, t.token(id, 'b', 'speaker'));
      await refused.close();
      assert.equal(refused.error?.code, 'rtc_unavailable', JSON.stringify(refused.error ?? refused.answer));
      await new Promise<void>((resolve) => other.close(() => resolve()));
      const clients: BareStageClient[] = [];
      try {
        // Whichever port the failed offer tried is set aside; the free one serves the next offer.
        for (let i = 0; i < 2 && !clients.some((c) => c.answer); i++)
          clients.push(await bareStageClient(t.url, t.token(id, 'b', 'speaker')));
        const ok = clients.find((c) => c.answer);
        assert.ok(ok?.answer, JSON.stringify(clients.map((c) => c.error)));
        assert.equal(candidatesOf(ok.answer).find((c) => c.transport === 'udp')?.port, range[1]);
        await ok.connected();
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    } finally {
      held.close();
    }
    await sleep(300);
    assert.ok(t.server.media.rtc.failures.bind_failed > failedBefore, JSON.stringify(t.server.media.rtc));
  });
});

describe('announced addresses', () => {
  let t: TestServer;
  let id: string;

  before(async () => {
    t = await startTestServer({ rtcAnnouncedIps: ['203.0.113.7', '2001:db8::7'], rtcListenIp: '127.0.0.1' });
    id = await createSpace(t, { live: true });
  });
  after(() => t.close());

  test('the answer carries each announced address in place of the bound one, with the bound port', async () => {
    const client = await bareStageClient(t.url, await seat(t, id, 'a'));
    try {
      assert.ok(client.answer, JSON.stringify(client.error));
      const candidates = candidatesOf(client.answer);
      const udp = candidates.filter((c) => c.transport === 'udp');
      assert.deepEqual([...new Set(udp.map((c) => c.address))], ['203.0.113.7', '2001:db8::7']);
      assert.equal(new Set(udp.map((c) => c.port)).size, 1, 'one socket, announced at two addresses');
      assert.ok(!candidates.some((c) => c.address === '127.0.0.1'), 'the bound address is not announced');
      assert.match(client.answer, /^c=IN IP4 203\.0\.113\.7\r?$/m);
    } finally {
      await client.close();
    }
  });
});

describe('candidates a speaker names', () => {
  let t: TestServer;
  let id: string;

  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true });
  });
  after(() => t.close());

  test('get no packet from the server: not a UDP port, not a TCP port, not port 22, not cloud metadata, not mDNS', async () => {
    const udpTrap = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udpTrap.bind(0, '127.0.0.1', () => resolve()));
    let udpHits = 0;
    udpTrap.on('message', () => udpHits++);
    let tcpHits = 0;
    const tcpTrap = net.createServer((socket) => {
      tcpHits++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tcpTrap.listen(0, '127.0.0.1', () => resolve()));
    const udpPort = udpTrap.address().port;
    const tcpPort = (tcpTrap.address() as net.AddressInfo).port;
    const sniff = await capture(
      `(host 127.0.0.1 and (udp port ${udpPort} or tcp port ${tcpPort} or port 22)) or host 169.254.169.254 or udp port 5353 or host 10.255.0.9`,
    );
    const client = await bareStageClient(t.url, await seat(t, id, 'prober'), {
      offerCandidates: [
        `candidate:901 1 udp 2130706431 127.0.0.1 ${udpPort} typ host`,
        `candidate:902 1 tcp 2130706430 127.0.0.1 ${tcpPort} typ host tcptype passive`,
        'candidate:903 1 udp 2130706429 127.0.0.1 22 typ host',
        'candidate:904 1 udp 2130706428 0f0e0d0c-aaaa-bbbb-cccc-000000000001.local 9 typ host',
      ],
      trickle: [
        'candidate:905 1 udp 2130706427 169.254.169.254 80 typ host',
        'candidate:906 1 tcp 2130706426 127.0.0.1 22 typ host tcptype passive',
        'candidate:907 1 udp 1694498815 10.255.0.9 53 typ srflx raddr 0.0.0.0 rport 0',
        'candidate:908 1 udp 2130706425 0f0e0d0c-aaaa-bbbb-cccc-000000000002.local 5353 typ host',
      ],
    });
    try {
      assert.ok(client.answer, JSON.stringify(client.error));
      await client.connected();
      await sleep(3000);
    } finally {
      await client.close();
      udpTrap.close();
      tcpTrap.close();
    }
    const seen = await sniff.stop();
    assert.equal(udpHits, 0, 'nothing reached the UDP port the speaker named');
    assert.equal(tcpHits, 0, 'no connection reached the TCP port the speaker named');
    assert.deepEqual(seen, [], 'no packet to any address or port the speaker named (tcpdump)');
  });
});

describe('TURN (a real coturn, from deploy/coturn/turnserver.conf)', () => {
  let t: TestServer;
  let turn: Coturn;
  let id: string;
  const secret = 'a-secret-shared-with-coturn-0123456789';

  before(async () => {
    const [port, tlsPort] = await freePortRange(2);
    // One machine: the relay must reach Rostrum on loopback, which the shipped file forbids.
    turn = await startCoturn({ ip: '127.0.0.1', port, tlsPort, secret, extra: ['allow-loopback-peers', 'allowed-peer-ip=127.0.0.1'] });
    t = await startTestServer({ turnUrls: [turn.urls.udp, turn.urls.tcp, turn.urls.tls], turnSecret: secret, turnTtlSeconds: 600 });
    id = await createSpace(t, { live: true });
  });
  after(async () => {
    await t?.close();
    await turn?.stop();
  });

  test('the welcome hands out the TURN URLs with a credential for this connection, and coturn as STUN', async () => {
    const client = await bareStageClient(t.url, await seat(t, id, 'w'));
    await client.close();
    const { iceServers, iceServersExpireAt } = client.welcome;
    assert.deepEqual(iceServers[0], { urls: [`stun:127.0.0.1:${turn.port}`] });
    assert.deepEqual(iceServers[1].urls, [turn.urls.udp, turn.urls.tcp, turn.urls.tls]);
    const expiresAt = Date.parse(iceServersExpireAt);
    assert.ok(Math.abs(expiresAt - (Date.now() + 600_000)) < 5000, iceServersExpireAt);
    assert.equal(iceServers[1].username, `${expiresAt / 1000}:w`);
    assert.deepEqual(turnCredential(secret, 'w', expiresAt / 1000).credential, iceServers[1].credential);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    test(`a speaker that may only use the relay (TURN over ${transport}) is heard on stage and hears it`, async () => {
      const direct = await SpeakerBot.join({ server: t.url, token: await seat(t, id, `direct-${transport}`), toneHz: 440 });
      const relayed = await SpeakerBot.join({
        server: t.url,
        token: await seat(t, id, `relayed-${transport}`),
        toneHz: 660,
        relay: true,
        turnTransport: transport,
      });
      try {
        const path = await relayed.path();
        assert.equal(path?.candidateType, 'relay', JSON.stringify(path));
        await sleep(1000);
        const since = Date.now();
        await sleep(1000);
        assert.ok(goertzel(direct.heardSince(since), 660) > PRESENT, 'the direct speaker hears the relayed one');
        assert.ok(goertzel(relayed.heardSince(since), 440) > PRESENT, 'the relayed speaker hears the direct one');
        assert.ok(goertzel(relayed.heardSince(since), 660) < ABSENT, 'and not itself');
      } finally {
        await direct.close();
        await relayed.close();
      }
    });
  }

  test('a process whose peer connections allocated a relay, or were refused one, ends once they are closed', async () => {
    // werift 0.24 slept until the allocation's next refresh (minutes) in a timer close() could not
    // stop, and left the socket of a refused allocation open: either kept the process alive.
    const now = Math.floor(Date.now() / 1000);
    const fresh = turnCredential(secret, 'exit', now + 60);
    const forged = turnCredential('another-secret-0123456789abcdef', 'exit', now + 60);
    const gather = (c: { username: string; credential: string }) => {
      const config = JSON.stringify({ iceServers: [{ urls: turn.urls.udp, ...c }], iceTransportPolicy: 'relay' });
      return [
        `{ const pc = new RTCPeerConnection(rtcConfig(true, ${config}));`,
        `pc.addTransceiver('audio', { direction: 'sendonly' });`,
        `await pc.setLocalDescription(await pc.createOffer());`,
        `await gatheringComplete(pc);`,
        `console.log((pc.localDescription.sdp.match(/ typ relay/g) ?? []).length);`,
        `await pc.close(); }`,
      ].join('\n');
    };
    const child = [
      `import { RTCPeerConnection } from 'werift';`,
      `import { gatheringComplete, rtcConfig } from ${JSON.stringify(new URL('../src/stage/rtc-config.js', import.meta.url).href)};`,
      gather(forged),
      gather(fresh),
    ].join('\n');
    const started = Date.now();
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', child], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.deepEqual(run.stdout.trim().split('\n'), ['0', '1'], 'refused, then a relay');
    assert.ok(Date.now() - started < 45_000, `the process ended ${Date.now() - started} ms after it started`);
  });

  test('coturn relays for a fresh credential, and refuses one past its expiry or minted with another secret', async () => {
    const relayCandidates = async (username: string, credential: string) => {
      const pc = new RTCPeerConnection(
        rtcConfig(true, { iceServers: [{ urls: turn.urls.udp, username, credential }], iceTransportPolicy: 'relay' }),
      );
      pc.addTransceiver('audio', { direction: 'sendonly' });
      await pc.setLocalDescription(await pc.createOffer());
      await gatheringComplete(pc);
      const sdp = pc.localDescription?.sdp ?? '';
      await pc.close();
      return candidatesOf(sdp).filter((c) => c.type === 'relay').length;
    };
    const now = Math.floor(Date.now() / 1000);
    const fresh = turnCredential(secret, 'x', now + 60);
    const expired = turnCredential(secret, 'x', now - 60);
    const forged = turnCredential('another-secret-0123456789abcdef', 'x', now + 60);
    assert.equal(await relayCandidates(fresh.username, fresh.credential), 1, 'a fresh credential gets a relay');
    assert.equal(await relayCandidates(expired.username, expired.credential), 0, 'an expired one does not');
    assert.equal(await relayCandidates(forged.username, forged.credential), 0, 'nor one of another secret');
  });
});
