/**
 * The stage's network settings as data: the listen address chosen, port ranges and address lists
 * parsed (and refused with a clear message), candidates rewritten for announced addresses, ports
 * handed out by the pool, TURN URLs checked and ICE servers built.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../src/config.js';
import { PortPool } from '../src/stage/port-pool.js';
import { announceCandidates, chooseListenIp, parseAddresses, parsePortRange } from '../src/stage/rtc-network.js';
import { iceServersFor, parseIceUrls, turnCredential } from '../src/stage/turn-credentials.js';

describe('rtc network settings', () => {
  test('the listen address: loopback for this machine only, the host when it is one address, else the default route’s', () => {
    const external = chooseListenIp({ host: '0.0.0.0' });
    assert.match(external, /^\d+\.\d+\.\d+\.\d+$/);
    assert.ok(!external.startsWith('127.') && external !== '0.0.0.0', external);
    assert.equal(chooseListenIp({ host: '127.0.0.1' }), '127.0.0.1');
    assert.equal(chooseListenIp({ host: 'localhost', publicUrl: 'http://127.0.0.1:8080' }), '127.0.0.1');
    assert.equal(chooseListenIp({ host: '10.1.2.3' }), '10.1.2.3');
    assert.equal(chooseListenIp({ host: '0.0.0.0', configured: '10.9.9.9' }), '10.9.9.9', 'configured wins');
    // Loopback behind an edge on the same machine, or announcing a public address: speakers are elsewhere.
    assert.equal(chooseListenIp({ host: '127.0.0.1', publicUrl: 'https://rostrum.example.com' }), external);
    assert.equal(chooseListenIp({ host: '127.0.0.1', announced: ['203.0.113.7'] }), external);
    assert.throws(() => chooseListenIp({ host: '0.0.0.0', configured: 'eth0' }), /ROSTRUM_RTC_LISTEN_IP must be an IPv4 address/);
  });

  test('port ranges are LOW-HIGH or one port, within 1024-65535', () => {
    assert.deepEqual(parsePortRange('50000-50100'), [50000, 50100]);
    assert.deepEqual(parsePortRange(' 50000 - 50001 '), [50000, 50001]);
    assert.deepEqual(parsePortRange('50000'), [50000, 50000]);
    assert.equal(parsePortRange(''), undefined);
    for (const bad of ['80-90', '50100-50000', '50000-70000', 'a-b', '50000:50100', '-5']) {
      assert.throws(() => parsePortRange(bad), /ROSTRUM_RTC_PORT_RANGE must be LOW-HIGH/, bad);
    }
  });

  test('announced addresses are IP addresses', () => {
    assert.deepEqual(parseAddresses('203.0.113.7, 2001:db8::7', 'X'), ['203.0.113.7', '2001:db8::7']);
    assert.throws(() => parseAddresses('example.com', 'ROSTRUM_RTC_ANNOUNCED_IP'), /ROSTRUM_RTC_ANNOUNCED_IP must list IP addresses/);
  });

  test('the environment reaches the config, and TURN URLs without a secret are refused', () => {
    const config = loadConfig(
      {},
      {
        ROSTRUM_RTC_ANNOUNCED_IP: '203.0.113.7',
        ROSTRUM_RTC_PORT_RANGE: '50000-50010',
        ROSTRUM_RTC_TCP: '0',
        ROSTRUM_TURN_URLS: 'turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp',
        ROSTRUM_TURN_SECRET: 'x'.repeat(32),
        ROSTRUM_TURN_TTL: '3600',
      },
    );
    assert.deepEqual(config.rtcAnnouncedIps, ['203.0.113.7']);
    assert.deepEqual(config.rtcPortRange, [50000, 50010]);
    assert.equal(config.rtcTcp, false);
    assert.equal(config.turnUrls.length, 2);
    assert.equal(config.turnTtlSeconds, 3600);
    assert.throws(() => loadConfig({}, { ROSTRUM_TURN_URLS: 'turn:t.example.com' }), /set ROSTRUM_TURN_SECRET/);
    assert.throws(() => loadConfig({}, { ROSTRUM_TURN_URLS: 'turn:t.example.com', ROSTRUM_TURN_SECRET: 'short' }), /at least 16/);
    assert.throws(() => loadConfig({}, { ROSTRUM_TURN_URLS: 'http://t.example.com' }), /ROSTRUM_TURN_URLS must list/);
    assert.throws(() => loadConfig({}, { ROSTRUM_TURN_URLS: 'stun:t.example.com?transport=tcp' }), /ROSTRUM_TURN_URLS must list/);
  });
});

describe('announceCandidates', () => {
  const answer = [
    'v=0',
    'o=- 1 0 IN IP4 0.0.0.0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 96',
    'c=IN IP4 0.0.0.0',
    'a=candidate:aaa 1 udp 2116026367 10.0.0.5 50001 typ host generation 0 ufrag x',
    'a=candidate:bbb 1 tcp 1772093439 10.0.0.5 50001 typ host tcptype passive generation 0 ufrag x',
    'a=candidate:ccc 1 udp 2116026360 172.17.0.1 40000 typ host generation 0 ufrag x',
    'a=end-of-candidates',
    '',
  ].join('\r\n');
  const network = { listenIp: '10.0.0.5', announcedIps: [] as string[], portRange: undefined, tcp: true };

  test('without announced addresses, only the listen address’s candidates stay', () => {
    const out = announceCandidates(answer, network);
    assert.equal(out, answer.replace(/a=candidate:ccc[^\r]*\r\n/, ''));
  });

  test('each announced address replaces the bound one, priorities distinct, and leads the connection line', () => {
    const out = announceCandidates(answer, { ...network, announcedIps: ['203.0.113.7', '2001:db8::7'] });
    const candidates = out.split('\r\n').filter((l) => l.startsWith('a=candidate:'));
    assert.deepEqual(candidates, [
      'a=candidate:aaa 1 udp 2116026367 203.0.113.7 50001 typ host generation 0 ufrag x',
      'a=candidate:aaax1 1 udp 2116026366 2001:db8::7 50001 typ host generation 0 ufrag x',
      'a=candidate:bbb 1 tcp 1772093439 203.0.113.7 50001 typ host tcptype passive generation 0 ufrag x',
      'a=candidate:bbbx1 1 tcp 1772093438 2001:db8::7 50001 typ host tcptype passive generation 0 ufrag x',
    ]);
    assert.match(out, /\r\nc=IN IP4 203\.0\.113\.7\r\n/);
    assert.match(out, /\r\na=end-of-candidates\r\n/);
  });
});

describe('PortPool', () => {
  test('hands out every port once, round-robin, and a released port comes back last', () => {
    const pool = new PortPool([100, 102]);
    assert.deepEqual([pool.take(), pool.take(), pool.take(), pool.take()], [100, 101, 102, undefined]);
    assert.equal(pool.used, 3);
    pool.release(101);
    assert.equal(pool.take(), 101);
    pool.release(100);
    pool.release(102);
    assert.equal(pool.take(), 102, 'round-robin continues after the last port handed out');
    assert.equal(pool.take(), 100);
  });

  test('a busy port is skipped until its time is up', () => {
    let now = 0;
    const pool = new PortPool([100, 101], () => now);
    assert.equal(pool.take(), 100);
    pool.busy(100, 1000);
    assert.equal(pool.take(), 101);
    assert.equal(pool.take(), undefined, '100 is set aside, 101 in use');
    now = 1000;
    assert.equal(pool.take(), 100);
  });
});

describe('TURN credentials', () => {
  test('the username is expiry:identity and the password base64 HMAC-SHA1 of it (TURN REST API)', () => {
    // Worked by hand: echo -n '1700000000:alice' | openssl dgst -sha1 -hmac 'north-wind-secret-123' -binary | base64
    assert.deepEqual(turnCredential('north-wind-secret-123', 'alice', 1_700_000_000), {
      username: '1700000000:alice',
      credential: '32SJMqCz3cPUADmc89gofXYAv54=',
    });
  });

  test('ICE servers: STUN from each UDP TURN server, then the TURN URLs with a credential', () => {
    const urls = parseIceUrls('turn:t.example.com:3478?transport=udp, turn:t.example.com:3478?transport=tcp, turns:t.example.com:5349');
    const { iceServers, expiresAt } = iceServersFor({ urls, secret: 's'.repeat(16), ttlSeconds: 600 }, 'bob', 1_000_000);
    assert.equal(expiresAt, 1600);
    assert.deepEqual(iceServers[0], { urls: ['stun:t.example.com:3478'] });
    assert.deepEqual(iceServers[1]?.urls, urls);
    assert.equal(iceServers[1]?.username, '1600:bob');
    assert.deepEqual(iceServersFor(undefined, 'bob'), { iceServers: [] });
  });
});
