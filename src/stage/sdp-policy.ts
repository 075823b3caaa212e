/**
 * What a speaker may offer: audio only, Opus only, ICE credentials and a DTLS fingerprint, one
 * microphone (sendonly or sendrecv) and at most SLOTS receive-only audios. Checked before the offer reaches the WebRTC stack, so a hostile SDP
 * costs a regex pass and gets a coded error.
 */
import { fail } from '../errors.js';
import { MAX_SDP_BYTES, SLOTS } from './protocol.js';

const MAX_CANDIDATES_PER_SECTION = 10;
/** ice-char is ALPHA / DIGIT / "+" / "/"; a ufrag has 4 to 256, a password 22 to 256 (RFC 8839 §5.4). */
const ICE_UFRAG = /^a=ice-ufrag:[A-Za-z0-9+/]{4,256}\s*$/m;
const ICE_PWD = /^a=ice-pwd:[A-Za-z0-9+/]{22,256}\s*$/m;
/** `a=fingerprint:<hash function> <hex pairs joined by colons>` (RFC 8122 §5). */
const FINGERPRINT = /^a=fingerprint:[!-~]{1,32} [0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})+\s*$/m;
/** A media section's identification (RFC 5888 §4: a token; browsers use small numbers). */
const MID = /^a=mid:([A-Za-z0-9_-]{1,32})\s*$/;

export function checkOffer(sdp: string): void {
  if (sdp.length > MAX_SDP_BYTES) throw fail('validation_failed', `The SDP is larger than ${MAX_SDP_BYTES} characters.`);
  if (!sdp.startsWith('v=0')) throw fail('validation_failed', 'Not an SDP offer.');
  const [sessionPart = '', ...sections] = sdp.split(/\r?\n(?=m=)/);
  if (sections.length === 0) throw fail('validation_failed', 'The offer has no media.');
  // ICE credentials and the DTLS fingerprint, on each section or once for the session.
  const has = (attribute: RegExp, section: string) => attribute.test(section) || attribute.test(sessionPart);
  let senders = 0;
  const seen = new Set<string>();
  for (const section of sections) {
    const kind = /^m=(\w+)/.exec(section)?.[1];
    if (kind !== 'audio') throw fail('validation_failed', `Only audio is accepted on the stage, not ${kind ?? 'unknown'} media.`);
    if (!/^a=rtpmap:\d+ opus\/48000(\/2)?\s*$/im.test(section)) throw fail('validation_failed', 'Every audio section must offer Opus.');
    if (!has(ICE_UFRAG, section) || !has(ICE_PWD, section)) {
      throw fail('validation_failed', 'Every audio section needs ICE credentials: a=ice-ufrag and a=ice-pwd (RFC 8839 §5.4).');
    }
    if (!has(FINGERPRINT, section))
      throw fail('validation_failed', 'Every audio section needs a DTLS fingerprint: a=fingerprint (RFC 8122).');
    if (/^a=(sendonly|sendrecv)\s*$/m.test(section)) senders++;
    // RFC 8843: every section of a bundled offer names itself; werift cannot answer one that does not.
    const mids = section.match(/^a=mid:.*$/gm) ?? [];
    const mid = mids.length === 1 ? MID.exec(mids[0]!)?.[1] : undefined;
    if (mid === undefined) throw fail('validation_failed', 'Every audio section needs one a=mid (letters, digits, - and _; RFC 8843).');
    if (seen.has(mid)) throw fail('validation_failed', `Two sections have a=mid:${mid}.`);
    seen.add(mid);
  }
  if (senders !== 1) throw fail('validation_failed', 'Offer exactly one microphone (one sendonly audio section).');
  if (sections.length > SLOTS + 1) throw fail('validation_failed', `Offer at most ${SLOTS} receive-only audio sections.`);
  for (const section of sections) {
    if ((section.match(/^a=candidate:/gm) ?? []).length > MAX_CANDIDATES_PER_SECTION) {
      throw fail('validation_failed', `At most ${MAX_CANDIDATES_PER_SECTION} ICE candidates per media section.`);
    }
  }
}

/** `candidate:<foundation> <component> <udp|tcp> <priority> <address> <port> typ <type> …` (RFC 8839 §5.1). */
const CANDIDATE = /^(a=)?candidate:[!-~]{1,32} \d{1,3} (udp|tcp) \d{1,10} [\w.:-]{1,255} \d{1,5} typ (host|srflx|prflx|relay)( [ -~]*)?$/i;

/** What a trickled candidate line may be: one well-formed candidate, or empty (end of candidates). */
export function checkCandidate(line: string | null): void {
  if (line === null || line === '') return;
  if (!CANDIDATE.test(line)) throw fail('validation_failed', 'Not an ICE candidate line.');
}
