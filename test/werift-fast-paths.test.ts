/**
 * The fast per-packet paths that replace werift's (werift-fast-paths.ts, srtp/, slot-sender.ts,
 * slot-reports.ts), each checked against werift's own implementation, and end to end between two
 * real werift peers.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { test } from 'node:test';
import {
  ProtectionProfileAeadAes128Gcm,
  RtcpPacketConverter,
  RtcpSourceDescriptionPacket,
  RtcpSrPacket,
  RtpHeader,
  type RtpPacket,
  SrtcpSession,
  SrtpAuthenticationError,
  SrtpSession,
} from 'werift';
import { compoundPackets, SlotReports } from '../src/stage/slot-reports.js';
import { ntpTime, rtpHeaderTemplate, type SenderReport, SlotSender } from '../src/stage/slot-sender.js';
import { REPLAY_WINDOW } from '../src/stage/srtp/gcm-srtp-session.js';
import { GcmSrtcpSession, GcmSrtpSession, parseRtpHeader, usesFastSrtp, weriftParseRtpHeader } from '../src/stage/werift-fast-paths.js';
import { weriftPair } from './helpers/werift-pair.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A random RTP packet: CSRCs, one-byte, two-byte or unknown-profile extensions, padding. */
function randomPacket(): Buffer {
  const csrc = randomInt(0, 3);
  const kind = randomInt(0, 4); // 0 none, 1 one-byte, 2 two-byte, 3 other profile
  const padding = randomInt(0, 4) === 0;
  const parts: Buffer[] = [];
  const fixed = Buffer.alloc(12 + 4 * csrc);
  fixed[0] = 0x80 | (padding ? 0x20 : 0) | (kind ? 0x10 : 0) | csrc;
  fixed[1] = randomInt(0, 256);
  randomBytes(10).copy(fixed, 2);
  randomBytes(4 * csrc).copy(fixed, 12);
  parts.push(fixed);
  if (kind) {
    const body: Buffer[] = [];
    if (kind === 1) {
      for (let n = randomInt(0, 4); n > 0; n--) {
        const length = randomInt(1, 5);
        body.push(Buffer.from([(randomInt(1, 15) << 4) | (length - 1)]), randomBytes(length));
        if (randomInt(0, 3) === 0) body.push(Buffer.alloc(1)); // padding between elements
      }
    } else if (kind === 2) {
      for (let n = randomInt(0, 4); n > 0; n--) {
        const length = randomInt(0, 6);
        body.push(Buffer.from([randomInt(1, 256), length]), randomBytes(length));
      }
    } else {
      body.push(randomBytes(randomInt(0, 3) * 4));
    }
    let content = Buffer.concat(body);
    content = Buffer.concat([content, Buffer.alloc((4 - (content.length % 4)) % 4)]);
    const head = Buffer.alloc(4);
    head.writeUInt16BE(kind === 1 ? 0xbede : kind === 2 ? 0x1000 : 0x1234, 0);
    head.writeUInt16BE(content.length / 4, 2);
    parts.push(head, content);
  }
  parts.push(randomBytes(randomInt(1, 120)));
  if (padding) {
    const size = randomInt(1, 8);
    const pad = Buffer.alloc(size);
    pad[size - 1] = size;
    parts.push(pad);
  }
  return Buffer.concat(parts);
}

/** The fields werift's header object carries, for comparing two parses. */
const fields = (h: RtpHeader) =>
  JSON.parse(JSON.stringify({ ...h, extensions: h.extensions.map((e) => ({ id: e.id, payload: e.payload.toString('hex') })) }));

test('parseRtpHeader reads every field exactly as werift’s RtpHeader.deSerialize does', () => {
  assert.notEqual(parseRtpHeader, weriftParseRtpHeader);
  for (let i = 0; i < 2000; i++) {
    const packet = randomPacket();
    const fast = parseRtpHeader(packet);
    assert.ok(fast instanceof RtpHeader);
    assert.deepEqual(fields(fast), fields(weriftParseRtpHeader(packet)), packet.toString('hex'));
  }
});

/** Random master keys for both ends of one AES-GCM association: werift's end, and ours (the same keys swapped). */
function gcmConfigs() {
  const [k1, s1, k2, s2] = [randomBytes(16), randomBytes(12), randomBytes(16), randomBytes(12)];
  const config = (lk: Buffer, ls: Buffer, rk: Buffer, rs: Buffer) => ({
    keys: { localMasterKey: lk, localMasterSalt: ls, remoteMasterKey: rk, remoteMasterSalt: rs },
    profile: ProtectionProfileAeadAes128Gcm,
  });
  return { theirs: config(k1, s1, k2, s2), ours: config(k2, s2, k1, s1) };
}

/** Two ends of one SRTP association: werift's own session, and GcmSrtpSession over the other keys. */
function pair() {
  const { theirs, ours } = gcmConfigs();
  return { werift: new SrtpSession(theirs), fast: new GcmSrtpSession(new SrtpSession(ours)) };
}

function header(seq: number, extensions = true): RtpHeader {
  return new RtpHeader({
    payloadType: 111,
    sequenceNumber: seq,
    timestamp: seq * 960,
    ssrc: 0x11223344,
    marker: seq % 7 === 0,
    extensions: extensions ? [{ id: 1, payload: Buffer.from('3') }] : [],
  });
}

test('GcmSrtpSession and werift’s SrtpSession read each other’s packets, across a sequence number wrap', () => {
  const { werift, fast } = pair();
  for (let n = 0; n < 40; n++) {
    const seq = (65_520 + n) & 0xffff;
    const payload = randomBytes(randomInt(1, 200));
    const h = header(seq, n % 2 === 0);
    const plain = Buffer.concat([h.serialize(h.serializeSize), payload]);
    assert.deepEqual(fast.decrypt(werift.encrypt(payload, h)), plain, `werift → fast, seq ${seq}`);
    assert.deepEqual(werift.decrypt(fast.encrypt(payload, header(seq, n % 2 === 0))), plain, `fast → werift, seq ${seq}`);
  }
});

test('GcmSrtpSession refuses a replayed packet, one too old for the window, and a forged one, and keeps working', () => {
  const { werift, fast } = pair();
  const sent = Array.from({ length: REPLAY_WINDOW + 20 }, (_, seq) => werift.encrypt(randomBytes(50), header(seq)));
  // Out of order within the window is fine.
  fast.decrypt(sent[1]!);
  fast.decrypt(sent[0]!);
  assert.throws(() => fast.decrypt(sent[1]!), SrtpAuthenticationError, 'a replay');
  for (let seq = 2; seq < sent.length; seq++) fast.decrypt(sent[seq]!);
  assert.throws(() => fast.decrypt(sent[5]!), SrtpAuthenticationError, 'older than the window');
  const forged = Buffer.from(werift.encrypt(randomBytes(50), header(sent.length)));
  forged[forged.length - 20]! ^= 0x40;
  assert.throws(() => fast.decrypt(forged), SrtpAuthenticationError, 'a changed byte');
  assert.throws(() => fast.decrypt(Buffer.alloc(20)), SrtpAuthenticationError, 'shorter than header and tag');
  const next = werift.encrypt(Buffer.from('still here'), header(sent.length));
  assert.equal(fast.decrypt(next).subarray(-10).toString(), 'still here');
});

test('GcmSrtcpSession and werift’s SrtcpSession read each other’s reports; a replayed or changed one is refused', () => {
  const { theirs, ours } = gcmConfigs();
  const werift = new SrtcpSession(theirs);
  const fast = new GcmSrtcpSession(new SrtcpSession(ours));
  // A receiver report's shape: V=2, RC, PT 201, length, then the sender SSRC and report blocks.
  const report = (n: number) => Buffer.concat([Buffer.from([0x81, 201, 0, 7, 0x11, 0x22, 0x33, 0x44]), randomBytes(24 + n)]);
  for (let n = 0; n < 20; n++) {
    const rtcp = report(n);
    assert.deepEqual(fast.decrypt(werift.encrypt(rtcp)), rtcp, `werift → fast ${n}`);
    assert.deepEqual(werift.decrypt(fast.encrypt(rtcp)), rtcp, `fast → werift ${n}`);
  }
  const sealed = werift.encrypt(report(3));
  fast.decrypt(sealed);
  assert.throws(() => fast.decrypt(sealed), SrtpAuthenticationError, 'a replay');
  const changed = Buffer.from(werift.encrypt(report(3)));
  changed[10]! ^= 1;
  assert.throws(() => fast.decrypt(changed), SrtpAuthenticationError, 'a changed byte');
  assert.throws(() => fast.decrypt(Buffer.alloc(20)), SrtpAuthenticationError, 'too short');
});

test('rtpHeaderTemplate writes the MID extension byte for byte as werift serializes it', () => {
  for (const mid of ['0', '1', '12', 'abc', 'slot-7']) {
    const id = randomInt(1, 15);
    const ours = rtpHeaderTemplate(0xdeadbeef, { id, value: mid });
    const h = new RtpHeader({ ssrc: 0xdeadbeef, extensions: [{ id, payload: Buffer.from(mid) }] });
    assert.deepEqual(ours, h.serialize(h.serializeSize), mid);
  }
  const bare = new RtpHeader({ ssrc: 7 });
  assert.deepEqual(rtpHeaderTemplate(7), bare.serialize(bare.serializeSize));
  assert.throws(() => rtpHeaderTemplate(7, { id: 1, value: 'x'.repeat(17) }), RangeError);
});

test('ntpTime counts seconds from 1900 above and the fraction of a second below', () => {
  assert.equal(ntpTime(0), 2_208_988_800n << 32n);
  assert.equal(ntpTime(1500), (2_208_988_801n << 32n) | 0x8000_0000n);
});

test('compound sender reports: werift’s parser reads every report and CNAME; many slots split into packets within the size limits', () => {
  const transport = {} as SenderReport['transport'];
  const report = (i: number, cname?: string): SenderReport => ({
    transport,
    ssrc: 0x1000_0000 + i,
    ntpTimestamp: ntpTime(1_700_000_000_000 + i),
    rtpTimestamp: (0xffff_fff0 + i * 960) >>> 0,
    packetCount: 100 + i,
    octetCount: 8000 + i,
    cname: cname === undefined ? undefined : Buffer.from(cname),
  });
  // CNAME lengths that end a chunk on a word boundary and off it: each chunk still ends in a null.
  for (const cname of ['a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d', 'xy', 'abcdef', 'z'.repeat(255)]) {
    const reports = Array.from({ length: 12 }, (_, i) => report(i, cname));
    const packets = compoundPackets(reports);
    const parsed = packets.flatMap((packet) => {
      const rtcp = RtcpPacketConverter.deSerialize(packet);
      assert.ok(rtcp[0] instanceof RtcpSrPacket, 'a compound packet starts with a sender report');
      assert.ok(packet.length <= 1200, `${packet.length} bytes`);
      return rtcp;
    });
    const srs = parsed.filter((p): p is RtcpSrPacket => p instanceof RtcpSrPacket);
    assert.deepEqual(
      srs.map((sr) => [
        sr.ssrc,
        sr.senderInfo.ntpTimestamp,
        sr.senderInfo.rtpTimestamp,
        sr.senderInfo.packetCount,
        sr.senderInfo.octetCount,
      ]),
      reports.map((r) => [r.ssrc, r.ntpTimestamp, r.rtpTimestamp, r.packetCount, r.octetCount]),
    );
    const chunks = parsed.filter((p) => p instanceof RtcpSourceDescriptionPacket).flatMap((p) => p.chunks);
    assert.deepEqual(
      chunks.map((c) => [c.source, c.items.map((item) => [item.type, item.text])]),
      reports.map((r) => [r.ssrc, [[1, cname]]]),
    );
  }
  // 40 slots: more than one SDES packet may count (31) and more than fit in 1,200 bytes.
  const many = compoundPackets(Array.from({ length: 40 }, (_, i) => report(i, 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d')));
  assert.ok(many.length >= 2);
  assert.equal(many.flatMap((p) => RtcpPacketConverter.deSerialize(p)).filter((p) => p instanceof RtcpSrPacket).length, 40);
  // Without a CNAME the compound packet is the sender reports alone.
  const bare = compoundPackets([report(1), report(2)]);
  assert.deepEqual(
    RtcpPacketConverter.deSerialize(bare[0]!).map((p) => p.type),
    [200, 200],
  );
});

test('two werift peers negotiate the fast GCM session, and a SlotSender’s packets arrive in order with their payloads', async (t) => {
  const heard: RtpPacket[] = [];
  const { a, b, track, sender } = await weriftPair(t, (b) =>
    b.onTrack.subscribe((remote) => remote.onReceiveRtp.subscribe((rtp) => heard.push(rtp))),
  );
  for (const pc of [a, b]) assert.ok(pc.dtlsTransports.every(usesFastSrtp), 'both ends use GcmSrtpSession');

  const slot = new SlotSender(sender, track);
  const pair = (a.dtlsTransports[0]!.iceTransport.connection as unknown as { nominated: { packetsSent: number; bytesSent: number } })
    .nominated;
  const payloads = Array.from({ length: 30 }, (_, i) => Buffer.from(`opus frame ${i}`));
  for (const [i, payload] of payloads.entries()) {
    const counted = pair.packetsSent;
    slot.send({ marker: i === 0, sequenceNumber: 1000 + i, timestamp: 48_000 + 960 * i, payload });
    // Sent on the pair's socket at once (sendOnIce), not after werift's three awaits.
    assert.equal(pair.packetsSent, counted + 1, 'the ICE pair counts the packet as it is sent');
    await sleep(5);
  }
  const deadline = Date.now() + 3000;
  while (heard.length < payloads.length && Date.now() < deadline) await sleep(20);
  assert.deepEqual(
    heard.map((rtp) => rtp.payload.toString()),
    payloads.map((p) => p.toString()),
  );
  const first = heard[0]!.header;
  assert.equal(first.ssrc, sender.ssrc);
  assert.equal(first.marker, true);
  heard.forEach((rtp, i) => {
    assert.equal(rtp.header.sequenceNumber, (first.sequenceNumber + i) & 0xffff);
    assert.equal(rtp.header.timestamp, (first.timestamp + 960 * i) >>> 0);
  });
  // The slot's sender report (a compound packet through the fast SRTCP) carries the counts SlotSender
  // kept; a slot that sent nothing since the report before last is not reported again.
  const reports = new SlotReports(() => [slot]);
  assert.equal(reports.report(), 1);
  const receiver = b.getTransceivers()[0]!.receiver as unknown as {
    remotePacketCountBySsrc: Record<number, number>;
    remoteOctetCountBySsrc: Record<number, number>;
  };
  const reportBy = Date.now() + 3000;
  while (receiver.remotePacketCountBySsrc[sender.ssrc] === undefined && Date.now() < reportBy) await sleep(20);
  assert.equal(receiver.remotePacketCountBySsrc[sender.ssrc], payloads.length, 'the sender report counts every packet');
  assert.equal(
    receiver.remoteOctetCountBySsrc[sender.ssrc],
    payloads.reduce((n, p) => n + p.length, 0),
  );
  await sleep(5);
  assert.equal(reports.report(), 1, 'sent since the report before last');
  assert.equal(reports.report(), 0, 'nothing sent since the report before last');
  // b's receiver reports (every 0.5–1.5 s) answer the sender report: werift's sender gets its RTT from them.
  const rttBy = Date.now() + 4000;
  const measured = sender as unknown as { rtt?: number };
  while (measured.rtt === undefined && Date.now() < rttBy) await sleep(50);
  assert.ok(measured.rtt !== undefined && measured.rtt >= 0 && measured.rtt < 1, `RTT ${measured.rtt}`);
  // Once the connection is closed, a packet is dropped as werift drops it: no throw, nothing counted.
  await a.close();
  const counted = pair.packetsSent;
  slot.send({ marker: false, sequenceNumber: 2000, timestamp: 96_000, payload: Buffer.from('after close') });
  assert.equal(pair.packetsSent, counted);
});
