/**
 * The fast receive path (src/stage/fast-receive.ts) between two real werift peers on loopback: the
 * established stream's packets are taken from the socket and delivered exactly as werift delivers
 * them, werift's bookkeeping (the receiver's statistics, its receiver reports, the ICE pair's and
 * DTLS transport's counters) stays right, RTCP still goes werift's way, and a forged packet is
 * dropped.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import type { MediaStreamTrack, RtpPacket } from 'werift';
import { FastReceive } from '../src/stage/fast-receive.js';
import { SlotReports } from '../src/stage/slot-reports.js';
import { SlotSender } from '../src/stage/slot-sender.js';
import { weriftPair } from './helpers/werift-pair.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** werift's private counters this test reads. */
interface StreamStats {
  packets_received: number;
  bytesReceived: number;
  max_seq: number;
}
interface Counted {
  packetsReceived: number;
}

test('an established stream is taken on the fast path, delivered in order, and werift’s counters and reports stay right', async (t) => {
  const heard: Array<{ rtp: RtpPacket; via: 'werift' | 'fast' }> = [];
  let fast: FastReceive | undefined;
  let remote: MediaStreamTrack | undefined;
  const { a, b, track, sender } = await weriftPair(t, (b) => {
    fast = new FastReceive(b);
    b.onTrack.subscribe((incoming) => {
      remote = incoming;
      incoming.onReceiveRtp.subscribe((rtp) => heard.push({ rtp, via: 'werift' }));
      fast!.deliver(incoming, (rtp) => heard.push({ rtp, via: 'fast' }));
    });
  });
  assert.ok(remote, 'b has the remote track');
  const dtls = b.dtlsTransports[0]!;
  const connection = dtls.iceTransport.connection as unknown as {
    nominated: Counted;
    protocols: Array<{ transport: { socket: { address(): { port: number } } } }>;
  };
  const receiverStats = (ssrc: number) =>
    (b.getTransceivers()[0]!.receiver as unknown as { remoteStreams: Record<number, StreamStats> }).remoteStreams[ssrc]!;
  const pair = connection.nominated;
  const dtlsCounts = dtls as unknown as Counted;
  const port = connection.protocols[0]!.transport.socket.address().port;

  const slot = new SlotSender(sender, track);
  const payloads = Array.from({ length: 40 }, (_, i) => Buffer.from(`opus frame ${i}`));
  const pairBefore = pair.packetsReceived;
  const dtlsBefore = dtlsCounts.packetsReceived;
  for (const [i, payload] of payloads.entries()) {
    slot.send({ marker: i === 0, sequenceNumber: 5000 + i, timestamp: 96_000 + 960 * i, payload });
    await sleep(5);
  }
  await until('every packet', () => heard.length >= payloads.length);
  await sleep(50);
  assert.deepEqual(
    heard.map((h) => h.rtp.payload.toString()),
    payloads.map((p) => p.toString()),
    'each packet once, in order',
  );
  // The first packet establishes the stream on werift's path; the rest come the fast way.
  assert.equal(heard[0]!.via, 'werift');
  assert.ok(
    heard.slice(1).every((h) => h.via === 'fast'),
    heard.map((h) => h.via).join(' '),
  );
  assert.equal(fast!.counts.taken, payloads.length - 1);
  const first = heard[0]!.rtp.header;
  heard.forEach(({ rtp }, i) => {
    assert.equal(rtp.header.ssrc, sender.ssrc);
    assert.equal(rtp.header.sequenceNumber, (first.sequenceNumber + i) & 0xffff);
    assert.equal(rtp.header.timestamp, (first.timestamp + 960 * i) >>> 0);
  });
  const stats = receiverStats(sender.ssrc);
  assert.equal(stats.packets_received, payloads.length, 'the receiver’s statistics count every packet');
  assert.equal(
    stats.bytesReceived,
    payloads.reduce((n, p) => n + p.length, 0),
  );
  assert.equal(stats.max_seq, heard.at(-1)!.rtp.header.sequenceNumber);
  assert.ok(pair.packetsReceived - pairBefore >= payloads.length, 'the ICE pair counts them');
  assert.ok(dtlsCounts.packetsReceived - dtlsBefore >= payloads.length, 'the DTLS transport counts them');

  // RTCP is werift's: a's sender report reaches b's receiver, and b's receiver reports (made from
  // the statistics above) give a's sender its round-trip time.
  const reports = new SlotReports(() => [slot]);
  assert.equal(reports.report(), 1);
  const receiver = b.getTransceivers()[0]!.receiver as unknown as { remotePacketCountBySsrc: Record<number, number> };
  await until('the sender report', () => receiver.remotePacketCountBySsrc[sender.ssrc] !== undefined);
  assert.equal(receiver.remotePacketCountBySsrc[sender.ssrc], payloads.length);
  const measured = sender as unknown as { rtt?: number };
  await until('a receiver report', () => measured.rtt !== undefined, 4000);

  // A forged packet with the stream's SSRC (right header, wrong authentication tag) is dropped.
  const forged = Buffer.alloc(12 + 20 + 16, 0x5a);
  forged[0] = 0x80;
  forged[1] = heard[0]!.rtp.header.payloadType;
  forged.writeUInt16BE((first.sequenceNumber + payloads.length) & 0xffff, 2);
  forged.writeUInt32BE(sender.ssrc, 8);
  const socket = createSocket('udp4');
  t.after(() => socket.close());
  await new Promise<void>((resolve, reject) => socket.send(forged, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
  await until('the forged packet to be dropped', () => fast!.counts.dropped === 1);
  assert.equal(heard.length, payloads.length, 'nothing delivered');

  // The connection keeps working after it.
  slot.send({
    marker: false,
    sequenceNumber: 5000 + payloads.length,
    timestamp: 96_000 + 960 * payloads.length,
    payload: Buffer.from('after'),
  });
  await until('the next packet', () => heard.length === payloads.length + 1);
  assert.equal(heard.at(-1)!.via, 'fast');
  assert.equal(heard.at(-1)!.rtp.payload.toString(), 'after');
  await a.close();
});

test('a track nobody registered for stays on werift’s path', async (t) => {
  const heard: RtpPacket[] = [];
  let fast: FastReceive | undefined;
  const { sender, track } = await weriftPair(t, (b) => {
    fast = new FastReceive(b);
    b.onTrack.subscribe((incoming) => incoming.onReceiveRtp.subscribe((rtp) => heard.push(rtp)));
  });
  const slot = new SlotSender(sender, track);
  for (let i = 0; i < 10; i++) {
    slot.send({ marker: false, sequenceNumber: i, timestamp: 960 * i, payload: Buffer.from(`frame ${i}`) });
    await sleep(5);
  }
  await until('every packet', () => heard.length === 10);
  assert.equal(fast!.counts.taken, 0);
});
