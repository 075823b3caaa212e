/**
 * A bare stage client for network tests: a werift peer connection (loopback-only, full ICE, as the
 * bots) that sends its offer over the real `/rtc` socket — optionally with extra candidate lines in it
 * and trickled after it — and hands back the server's answer as it came, so a test can read the
 * server's candidates and probe what the server does with a client's.
 */
import { MediaStreamTrack, RTCPeerConnection } from 'werift';
import WebSocket from 'ws';
import { SLOTS } from '../../src/stage/protocol.js';
import { connected, gatheringComplete, rtcConfig } from '../../src/stage/rtc-config.js';

export interface BareStageClient {
  welcome: Record<string, any>;
  /** The server's answer SDP, or its error when it refused the offer. */
  answer?: string;
  error?: { code: string; message: string };
  pc: RTCPeerConnection;
  /** Resolves once the media path is connected. */
  connected(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function bareStageClient(
  server: string,
  token: string,
  options: { offerCandidates?: string[]; trickle?: string[] } = {},
): Promise<BareStageClient> {
  const ws = new WebSocket(`${server.replace(/^http/, 'ws')}/rtc`);
  const messages: Array<Record<string, any>> = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const next = async (match: (m: Record<string, any>) => boolean, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no such message; got ${JSON.stringify(messages)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  ws.send(JSON.stringify({ type: 'auth', token }));
  const welcome = await next((m) => m.type === 'welcome' || m.type === 'error');
  if (welcome.type !== 'welcome') throw new Error(`not welcomed: ${JSON.stringify(welcome)}`);
  const pc = new RTCPeerConnection(rtcConfig(true));
  pc.addTransceiver(new MediaStreamTrack({ kind: 'audio' }), { direction: 'sendonly' });
  for (let i = 0; i < SLOTS; i++) pc.addTransceiver('audio', { direction: 'recvonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await gatheringComplete(pc);
  let offer = pc.localDescription?.sdp ?? '';
  if (options.offerCandidates?.length) {
    // Into the first media section, after its own candidates.
    const firstSection = offer.indexOf('\r\nm=') + 2;
    const sectionEnd = offer.indexOf('\r\nm=', firstSection);
    const at = sectionEnd < 0 ? offer.length : sectionEnd + 2;
    offer = offer.slice(0, at) + options.offerCandidates.map((c) => `a=${c}\r\n`).join('') + offer.slice(at);
  }
  ws.send(JSON.stringify({ type: 'offer', sdp: offer }));
  for (const candidate of options.trickle ?? []) ws.send(JSON.stringify({ type: 'candidate', candidate, sdpMid: '0', sdpMLineIndex: 0 }));
  const reply = await next((m) => m.type === 'answer' || m.type === 'error');
  const client: BareStageClient = {
    welcome,
    pc,
    connected: (timeoutMs = 10_000) => connected(pc, 'the bare stage client', timeoutMs),
    close: async () => {
      ws.close();
      await pc.close();
    },
  };
  if (reply.type === 'error') {
    client.error = reply.error;
    return client;
  }
  client.answer = reply.sdp;
  await pc.setRemoteDescription({ type: 'answer', sdp: reply.sdp });
  return client;
}

/** The candidates of an SDP: address, port, transport, type. */
export function candidatesOf(sdp: string): Array<{ address: string; port: number; transport: string; type: string }> {
  return [...sdp.matchAll(/^a=candidate:\S+ \d+ (\S+) \d+ (\S+) (\d+) typ (\S+)/gm)].map((m) => ({
    transport: m[1]!.toLowerCase(),
    address: m[2]!,
    port: Number(m[3]),
    type: m[4]!,
  }));
}
