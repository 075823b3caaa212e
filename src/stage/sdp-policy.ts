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
