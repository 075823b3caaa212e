/**
 * The RTCP sender reports of one speaker's slots, sent as one compound packet per transport and
 * report interval: a sender report for every slot that carried audio lately, then one SDES packet
 * with each slot's CNAME (RFC 3550 §6.1; several reports from one endpoint in one compound packet as
 * RFC 8108 §5.4.1 describes, which is what browsers send for several streams on a BUNDLE transport).
 *
 * werift runs a report loop per sender instead: with 13 speakers that is 156 timers, 156 SRTCP
 * packets sealed and sent, and 156 SDES packets a second. On the full stage those loops cost about
 * 1 % of a core (A/B with the loops switched off); one compound packet per speaker costs a twelfth.
 * The reports are written here (werift's SDES writer leaves out the chunk's terminating null when
 * the chunk ends on a word boundary) and checked against werift's RTCP parser in the tests.
 */
import type { RTCDtlsTransport } from 'werift';
import { type SenderReport, type SlotSender, sendSealed } from './slot-sender.js';
import { fastPathsEnabled } from './werift-adapter.js';

/** The report interval is drawn from this range, as werift's own loop does (ms). */
const MIN_INTERVAL_MS = 500;
const MAX_INTERVAL_MS = 1500;
/** A compound packet stays under this size before SRTCP's index and tag (20 bytes) are added. */
const MAX_COMPOUND_BYTES = 1200;
/** An SDES packet's header counts its chunks in five bits. */
const MAX_SDES_CHUNKS = 31;
/** A sender report without reception report blocks: header, SSRC and sender info. */
const SR_BYTES = 28;
const RTCP_VERSION = 0x80;
const PT_SR = 200;
const PT_SDES = 202;
const SDES_CNAME = 1;

export class SlotReports {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /**
   * When the report before last and the last went out: a slot that sent nothing since the report
   * before last is not reported (RFC 3550 §6.4: it is no longer a sender).
   */
  private previousAt = 0;
  private lastAt = 0;

  constructor(private readonly senders: () => Iterable<SlotSender>) {}

  /** Starts the report loop (once; later calls do nothing). With the fast paths off, werift's own senders report. */
  start(): void {
    if (this.timer || this.stopped || !fastPathsEnabled()) return;
    this.schedule();
  }

  /** Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /**
   * Sends the reports due now: a sender report for each connected slot that sent audio since the
   * report before last. Returns how many compound packets were sent.
   */
  report(now = Date.now()): number {
    const due = new Map<RTCDtlsTransport, SenderReport[]>();
    for (const sender of this.senders()) {
      if (sender.lastSentAt <= this.previousAt) continue;
      const report = sender.report(now);
      if (!report) continue;
      const reports = due.get(report.transport) ?? [];
      reports.push(report);
      due.set(report.transport, reports);
    }
    this.previousAt = this.lastAt;
    this.lastAt = now;
    let sent = 0;
    for (const [transport, reports] of due) {
      for (const compound of compoundPackets(reports)) {
        sendSealed(transport, transport.srtcp.encrypt(compound));
        sent++;
      }
    }
    return sent;
  }

  private schedule(): void {
    const interval = MIN_INTERVAL_MS + Math.random() * (MAX_INTERVAL_MS - MIN_INTERVAL_MS);
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.report();
      this.schedule();
    }, interval);
    this.timer.unref();
  }
}

/** The reports as compound packets (sender reports, then their CNAMEs), each within MAX_COMPOUND_BYTES. */
export function compoundPackets(reports: readonly SenderReport[]): Buffer[] {
  const packets: Buffer[] = [];
  let batch: SenderReport[] = [];
  let bytes = 4; // the SDES header
  for (const report of reports) {
    const size = SR_BYTES + (report.cname ? chunkBytes(report.cname) : 0);
    if (batch.length > 0 && (bytes + size > MAX_COMPOUND_BYTES || batch.length === MAX_SDES_CHUNKS)) {
      packets.push(compound(batch));
      batch = [];
      bytes = 4;
    }
    batch.push(report);
    bytes += size;
  }
  if (batch.length > 0) packets.push(compound(batch));
  return packets;
}

/** An SDES chunk with one CNAME item: SSRC, type, length, text, then at least one null to a word boundary. */
function chunkBytes(cname: Buffer): number {
  return Math.ceil((4 + 2 + cname.length + 1) / 4) * 4;
}

function compound(reports: readonly SenderReport[]): Buffer {
  const named = reports.filter((r) => r.cname);
  const sdesBytes = named.length > 0 ? 4 + named.reduce((n, r) => n + chunkBytes(r.cname!), 0) : 0;
  const out = Buffer.alloc(reports.length * SR_BYTES + sdesBytes);
  let at = 0;
  for (const r of reports) {
    out[at] = RTCP_VERSION;
    out[at + 1] = PT_SR;
    out.writeUInt16BE(SR_BYTES / 4 - 1, at + 2);
    out.writeUInt32BE(r.ssrc, at + 4);
    out.writeBigUInt64BE(r.ntpTimestamp, at + 8);
    out.writeUInt32BE(r.rtpTimestamp, at + 16);
    out.writeUInt32BE(r.packetCount, at + 20);
    out.writeUInt32BE(r.octetCount >>> 0, at + 24);
    at += SR_BYTES;
  }
  if (named.length === 0) return out;
  out[at] = RTCP_VERSION | named.length;
  out[at + 1] = PT_SDES;
  out.writeUInt16BE(sdesBytes / 4 - 1, at + 2);
  at += 4;
  for (const r of named) {
    const cname = r.cname!;
    out.writeUInt32BE(r.ssrc, at);
    out[at + 4] = SDES_CNAME;
    out[at + 5] = cname.length;
    cname.copy(out, at + 6);
    at += chunkBytes(cname); // the rest of the chunk stays zero: the terminating null and padding
  }
  return out;
}
