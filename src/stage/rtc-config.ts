/**
 * The werift configuration both ends of a stage session use: Opus only, and — when the server runs
 * on a loopback address (the embedded default, every test) — ICE restricted to 127.0.0.1, so no
 * connectivity check ever leaves the machine's loopback interface.
 */
import { type RTCPeerConnectionConfig, useOPUS, useSdesMid } from 'werift';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export function rtcConfig(loopbackOnly: boolean): RTCPeerConnectionConfig {
  // max-bundle: one ICE transport (one UDP socket) per session, not one per audio section; the MID
  // header extension lets the receiver tell the bundled slots apart.
  const config: RTCPeerConnectionConfig = {
    codecs: { audio: [useOPUS()] },
    headerExtensions: { audio: [useSdesMid()] },
    bundlePolicy: 'max-bundle',
  };
  if (!loopbackOnly) return config;
  return {
    ...config,
    iceAdditionalHostAddresses: ['127.0.0.1'],
    iceUseIpv6: false,
    iceFilterCandidatePair: (pair) => pair.remoteCandidate.host === '127.0.0.1' && pair.localCandidate.host === '127.0.0.1',
  };
}
