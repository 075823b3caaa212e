/**
 * What a speaker may offer: audio only, Opus only, one microphone (sendonly or sendrecv) and at most
 * SLOTS receive-only audios. Checked before the offer reaches the WebRTC stack, so a hostile SDP
 * costs a regex pass and gets a coded error.
 */
import { fail } from '../errors.js';
import { MAX_SDP_BYTES, SLOTS } from './protocol.js';

const MAX_CANDIDATES_PER_SECTION = 10;

export function checkOffer(sdp: string): void {
  if (sdp.length > MAX_SDP_BYTES) throw fail('validation_failed', `The SDP is larger than ${MAX_SDP_BYTES} characters.`);
  if (!sdp.startsWith('v=0')) throw fail('validation_failed', 'Not an SDP offer.');
  const sections = sdp.split(/\r?\n(?=m=)/).slice(1);
  if (sections.length === 0) throw fail('validation_failed', 'The offer has no media.');
  let senders = 0;
  for (const section of sections) {
    const kind = /^m=(\w+)/.exec(section)?.[1];
    if (kind !== 'audio') throw fail('validation_failed', `Only audio is accepted on the stage, not ${kind ?? 'unknown'} media.`);
    if (!/^a=rtpmap:\d+ opus\/48000(\/2)?\s*$/im.test(section)) throw fail('validation_failed', 'Every audio section must offer Opus.');
    if (/^a=(sendonly|sendrecv)\s*$/m.test(section)) senders++;
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
