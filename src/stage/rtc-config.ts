/**
 * The werift configurations of a stage session's two ends: Opus only, the MID and audio-level header
 * extensions, max-bundle. The server's side is ICE-lite on its network's one address; a client's
 * side (the bots) is full ICE, restricted to 127.0.0.1 when the server runs on loopback (the
 * embedded default, every test) so no check ever leaves the machine's loopback interface.
 */
import { type RTCPeerConnection, type RTCPeerConnectionConfig, useAudioLevelIndication, useOPUS, useSdesMid } from 'werift';
import type { RtcNetwork } from './rtc-network.js';
import { installWeriftFastPaths } from './werift-fast-paths.js';

/** Fresh per connection: werift may write negotiated values into its codec objects. */
const media = (): RTCPeerConnectionConfig => ({
  codecs: { audio: [useOPUS()] },
  headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()] },
  bundlePolicy: 'max-bundle',
});

/** A client's configuration (bots): full ICE; on loopback only 127.0.0.1 pairs. */
export function rtcConfig(loopbackOnly: boolean, extra: RTCPeerConnectionConfig = {}): RTCPeerConnectionConfig {
  // Every stage peer connection (server sessions, bots) is made with this config: the place to make
  // sure werift's per-packet paths are the fast ones before the first connection exists.
  installWeriftFastPaths();
  // max-bundle: one ICE transport (one UDP socket) per session, not one per audio section; the MID
  // header extension lets the receiver tell the bundled slots apart. The audio level extension
  // (RFC 6464) carries each packet's level, so the server need not decode to know who is talking.
  const config: RTCPeerConnectionConfig = { ...media(), ...extra };
  if (!loopbackOnly) return config;
  return {
    ...config,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    iceFilterCandidatePair: (pair) => pair.remoteCandidate.host === '127.0.0.1' && pair.localCandidate.host === '127.0.0.1',
  };
}

/**
 * A server session's configuration: ICE-lite (it never sends a check, so never to an address a
 * client names; rtc-network.ts), host candidates on the network's listen address only — werift's
 * own gathering over every interface is off — and ICE-TCP beside UDP when the network offers it.
 * The port is pinned after construction (pinPort).
 */
export function serverRtcConfig(network: RtcNetwork): RTCPeerConnectionConfig {
  installWeriftFastPaths();
  return {
    ...media(),
    iceLite: true,
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: [network.listenIp],
    iceInterfaceAddresses: { udp4: network.listenIp },
    iceUseTcp: network.tcp,
  };
}

/**
 * Binds the connection's UDP socket and ICE-TCP listener to exactly `port` (port-pool.ts chose it).
 * werift 0.24's configuration refuses a range of one port ("should not be same value") although its
 * port search handles one; its public `config` is read when the ICE transport is made (at
 * setRemoteDescription), so the range is set there, before that.
 */
export function pinPort(pc: RTCPeerConnection, port: number): void {
  pc.config.icePortRange = [port, port];
}

/** Resolves once the connection has gathered all its ICE candidates (they are then in its SDP). */
export function gatheringComplete(pc: RTCPeerConnection): Promise<void> {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    pc.iceGatheringStateChange.subscribe((state) => {
      if (state === 'complete') resolve();
    });
  });
}

/** Resolves once the connection is connected; rejects after `timeoutMs` (naming `what`). */
export function connected(pc: RTCPeerConnection, what: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pc.connectionState === 'connected') return resolve();
    const timer = setTimeout(() => reject(new Error(`${what} did not connect (${pc.connectionState})`)), timeoutMs);
    pc.connectionStateChange.subscribe((state) => {
      if (state !== 'connected') return;
      clearTimeout(timer);
      resolve();
    });
  });
}

/** RFC 6464: the client-to-mixer audio level header extension. */
export const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/** The id an SDP gives a header extension (`a=extmap:<id> <uri>`), if it offers it. */
export function extensionId(sdp: string, uri: string): number | undefined {
  for (const match of sdp.matchAll(/^a=extmap:(\d+)(?:\/\w+)? (\S+)/gm)) if (match[2] === uri) return Number(match[1]);
  return undefined;
}

/** The level in −dBov (0 loudest, 127 silence) an RTP packet carries in extension `id`, if any. */
export function audioLevelOf(extensions: ReadonlyArray<{ id: number; payload: Buffer }>, id: number | undefined): number | undefined {
  if (id === undefined) return undefined;
  for (const ext of extensions) if (ext.id === id && ext.payload.length > 0) return ext.payload[0]! & 0x7f;
  return undefined;
}
