/**
 * Two real werift peers on loopback with the stage's configuration: `a` sends one audio track,
 * `b` receives it. Used by the tests of the per-packet fast paths.
 */
import type { TestContext } from 'node:test';
import { MediaStreamTrack, RTCPeerConnection, type RTCRtpSender } from 'werift';
import { connected, gatheringComplete, rtcConfig } from '../../src/stage/rtc-config.js';

export interface WeriftPair {
  a: RTCPeerConnection;
  b: RTCPeerConnection;
  /** a's audio track and its sender. */
  track: MediaStreamTrack;
  sender: RTCRtpSender;
}

/**
 * Connects the pair (closed after the test). `beforeOffer` runs on `b` before it applies a's offer,
 * so it can subscribe to onTrack in time.
 */
export async function weriftPair(t: TestContext, beforeOffer: (b: RTCPeerConnection) => void): Promise<WeriftPair> {
  const a = new RTCPeerConnection(rtcConfig(true));
  const b = new RTCPeerConnection(rtcConfig(true));
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const track = new MediaStreamTrack({ kind: 'audio' });
  const { sender } = a.addTransceiver(track, { direction: 'sendonly' });
  beforeOffer(b);
  await a.setLocalDescription(await a.createOffer());
  await gatheringComplete(a);
  await b.setRemoteDescription({ type: 'offer', sdp: a.localDescription!.sdp });
  await b.setLocalDescription(await b.createAnswer());
  await gatheringComplete(b);
  await a.setRemoteDescription({ type: 'answer', sdp: b.localDescription!.sdp });
  await connected(a, 'a');
  await connected(b, 'b');
  return { a, b, track, sender };
}
