/**
 * The browser side of the stage: signalling over the `/rtc` WebSocket and WebRTC publishing with the
 * page's microphone, the same protocol the speaker bot speaks (src/stage/protocol.ts). Framework-free
 * and dependency-free, so any page (and the web app) can import it from `/assets/stage-client.js`.
 *
 *   const stage = new StageClient({ token, spaceId });
 *   stage.addEventListener('message', (e) => console.log(e.detail)); // every server push
 *   stage.addEventListener('state', (e) => console.log(e.detail));   // connecting → live → …
 *   await stage.start();
 *
 * It offers one microphone plus SLOTS receive-only audios, trickles its ICE candidates after the
 * offer, plays what the slots carry, and reconnects by itself (full-jitter backoff, a new offer on
 * the same identity) when the socket or the media path drops — unless it was removed, moved to the
 * audience, or the space ended.
 */

/** Receive slots to offer: everyone else who can be on stage (matches the server's SLOTS). */
export const SLOTS = 12;
/** Close codes after which reconnecting is pointless: normal (left, moved, ended) and policy (removed, refused). */
const FINAL_CLOSE_CODES = new Set([1000, 1008]);
const RECONNECT_BASE_MS = 250;
const RECONNECT_CAP_MS = 4000;
/** Errors answering an offer that a new attempt may get past. */
const RETRYABLE = new Set(['rtc_unavailable', 'not_ready', 'overloaded']);
/** How long a `disconnected` media path may last before we start again. */
const MEDIA_GRACE_MS = 1500;

/**
 * @typedef {object} StageClientOptions
 * @property {string} token A stage token for the space (host, co-host, speaker, or a listener with a pending request).
 * @property {string} spaceId The space's id (for the REST calls mute/unmute).
 * @property {string} [server] Base URL of the Rostrum server; defaults to the page's origin.
 * @property {() => Promise<MediaStream>} [microphone] Where the microphone comes from; defaults to getUserMedia.
 * @property {HTMLElement} [audioParent] Where the hidden <audio> elements that play the stage go; defaults to document.body.
 * @property {RTCIceServer[]} [iceServers] More STUN/TURN servers to gather with, besides the ones the server hands out
 *   in its welcome (its TURN servers, with a credential minted for this connection).
 */

export class StageClient extends EventTarget {
  /** @param {StageClientOptions} options */
  constructor(options) {
    super();
    this.options = options;
    this.server = (options.server ?? location.origin).replace(/\/$/, '');
    /** @type {'idle'|'connecting'|'waiting'|'publishing'|'live'|'reconnecting'|'closed'} */
    this.state = 'idle';
    /** Who we are on this stage, from the welcome. */
    this.identity = undefined;
    this.role = undefined;
    /** @type {RTCIceServer[]} The server's STUN/TURN servers, from the welcome (fresh credentials on every connection). */
    this.iceServers = [];
    /** @type {WebSocket | undefined} */
    this.ws = undefined;
    /** @type {RTCPeerConnection | undefined} */
    this.pc = undefined;
    /** @type {MediaStream | undefined} */
    this.microphone = undefined;
    /** mid → the identity its slot carries (from `slot` pushes). */
    this.slots = new Map();
    /** @type {Map<string, HTMLAudioElement>} mid → the element playing it */
    this.players = new Map();
    this.attempt = 0;
    this.stopped = false;
    this.mediaTimer = undefined;
  }

  /** Connects and, once on stage, publishes; resolves when the socket is open and authenticated. */
  async start() {
    this.stopped = false;
    await this.connect();
  }

  /** Leaves: closes the socket and the media session, stops the microphone. */
  close() {
    this.stopped = true;
    this.teardown();
    for (const track of this.microphone?.getTracks() ?? []) track.stop();
    this.microphone = undefined;
    this.setState('closed');
  }

  /** Mutes or unmutes yourself through the API (the server enforces it on the audio). */
  async setMuted(muted) {
    const path = `/api/spaces/${this.options.spaceId}/participants/${encodeURIComponent(this.identity ?? '')}/${muted ? 'mute' : 'unmute'}`;
    const res = await fetch(this.server + path, { method: 'POST', headers: { authorization: `Bearer ${this.options.token}` } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok)
      throw Object.assign(new Error(body?.error?.message ?? `HTTP ${res.status}`), { code: body?.error?.code, status: res.status });
    // Not sending what the server would drop anyway saves the uplink.
    for (const track of this.microphone?.getAudioTracks() ?? []) track.enabled = !muted;
    return body;
  }

  /** @private */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    // Backoff starts over once we are on stage (or waiting to be), not at every welcome: an offer the
    // server keeps refusing (no free port) is retried ever more slowly.
    if (state === 'live' || state === 'waiting') this.attempt = 0;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  /** @private */
  send(message) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** @private Opens the socket and authenticates; resolves on the welcome, rejects on a refusal. */
  connect() {
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const ws = new WebSocket(`${this.server.replace(/^http/, 'ws')}/rtc`);
    this.ws = ws;
    return new Promise((resolve, reject) => {
      let welcomed = false;
      ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: this.options.token }));
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.type === 'welcome') {
          welcomed = true;
          this.identity = message.identity;
          this.role = message.role;
          this.iceServers = message.iceServers ?? [];
          resolve(message);
        } else if (message.type === 'error' && !welcomed) {
          reject(Object.assign(new Error(message.error.message), { code: message.error.code }));
        }
        this.onMessage(message);
      };
      ws.onclose = (event) => {
        if (this.ws !== ws) return;
        if (!welcomed) reject(new Error(`stage socket closed (${event.code} ${event.reason})`));
        this.onSocketClosed(event);
      };
    });
  }

  /** @private */
  onMessage(message) {
    switch (message.type) {
      case 'welcome':
        if (message.role === 'listener') this.setState('waiting');
        else this.publish().catch((err) => this.fail(err));
        break;
      case 'request_resolved':
        if (message.identity === this.identity && message.outcome === 'approved') this.publish().catch((err) => this.fail(err));
        break;
      case 'answer':
        this.pc?.setRemoteDescription({ type: 'answer', sdp: message.sdp }).catch((err) => this.fail(err));
        break;
      case 'slot':
        this.slots.set(message.mid, message.identity);
        break;
      case 'muted':
        if (message.identity === this.identity) for (const track of this.microphone?.getAudioTracks() ?? []) track.enabled = false;
        break;
      case 'error':
        // The server could not take the offer for now (no free WebRTC port, media restarting, busy): start again.
        if (RETRYABLE.has(message.error?.code) && this.pc) this.restart();
        break;
    }
    this.dispatchEvent(new CustomEvent('message', { detail: message }));
  }

  /** @private Builds the offer (mic + receive slots), sends it at once and trickles candidates after it. */
  async publish() {
    this.setState('publishing');
    try {
      this.microphone ??= await (this.options.microphone?.() ??
        navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } }));
    } catch (err) {
      // Denied or missing: say so (NotAllowedError / NotFoundError) and stop; retrying cannot help.
      throw Object.assign(new Error(`No microphone: ${err.message}`), { code: 'microphone_unavailable', cause: err });
    }
    this.closeMedia();
    const iceServers = [...this.iceServers, ...(this.options.iceServers ?? [])];
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers });
    this.pc = pc;
    const opusOnly = opusCodecs();
    const mic = pc.addTransceiver(this.microphone.getAudioTracks()[0], { direction: 'sendonly' });
    if (opusOnly) mic.setCodecPreferences(opusOnly);
    for (let i = 0; i < SLOTS; i++) {
      const slot = pc.addTransceiver('audio', { direction: 'recvonly' });
      if (opusOnly) slot.setCodecPreferences(opusOnly);
    }
    pc.onicecandidate = (event) => {
      if (this.pc !== pc) return;
      const c = event.candidate;
      this.send(
        c
          ? { type: 'candidate', candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }
          : { type: 'candidate', candidate: null },
      );
    };
    pc.ontrack = (event) => this.play(event.transceiver.mid ?? String(this.players.size), event.track);
    pc.onconnectionstatechange = () => this.onMediaState(pc);
    await pc.setLocalDescription(await pc.createOffer());
    this.send({ type: 'offer', sdp: pc.localDescription.sdp });
  }

  /** @private Plays one receive slot through its own hidden <audio> element. */
  play(mid, track) {
    let audio = this.players.get(mid);
    if (!audio) {
      audio = document.createElement('audio');
      audio.autoplay = true;
      audio.dataset.slot = mid;
      (this.options.audioParent ?? document.body).append(audio);
      this.players.set(mid, audio);
    }
    audio.srcObject = new MediaStream([track]);
    audio.play().catch(() => this.dispatchEvent(new CustomEvent('autoplay-blocked')));
  }

  /** @private */
  onMediaState(pc) {
    if (this.pc !== pc) return;
    clearTimeout(this.mediaTimer);
    if (pc.connectionState === 'connected') {
      this.setState('live');
    } else if (pc.connectionState === 'failed') {
      this.restart();
    } else if (pc.connectionState === 'disconnected') {
      // Often a blip that ICE recovers from by itself; start again only if it lasts.
      this.mediaTimer = setTimeout(() => pc.connectionState !== 'connected' && this.restart(), MEDIA_GRACE_MS);
    }
  }

  /** @private */
  onSocketClosed(event) {
    this.closeMedia();
    if (this.stopped) return;
    if (FINAL_CLOSE_CODES.has(event.code)) {
      this.dispatchEvent(new CustomEvent('left', { detail: { code: event.code, reason: event.reason } }));
      this.close();
      return;
    }
    this.scheduleReconnect();
  }

  /** @private Starts again from the socket: a new auth and a new offer on the same identity. */
  restart() {
    if (this.stopped) return;
    this.teardown();
    this.scheduleReconnect();
  }

  /** @private Full jitter, capped: a stage full of reconnecting speakers never retries in step. */
  scheduleReconnect() {
    this.setState('reconnecting');
    const delay = Math.random() * Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** this.attempt++);
    setTimeout(() => {
      if (!this.stopped) this.connect().catch((err) => (isRefusal(err) ? this.fail(err) : this.scheduleReconnect()));
    }, delay);
  }

  /** @private Reports an error; a refusal (a coded error) is final, anything else is retried. */
  fail(err) {
    this.dispatchEvent(new CustomEvent('error', { detail: err }));
    if (isRefusal(err)) this.close();
    else this.restart();
  }

  /** @private */
  closeMedia() {
    clearTimeout(this.mediaTimer);
    const pc = this.pc;
    this.pc = undefined;
    pc?.close();
    this.slots.clear();
  }

  /** @private */
  teardown() {
    this.closeMedia();
    const ws = this.ws;
    this.ws = undefined;
    ws?.close();
  }
}

/** The browser's Opus codec entries, to offer Opus alone; undefined where codec preferences are unsupported. */
function opusCodecs() {
  const capabilities = globalThis.RTCRtpReceiver?.getCapabilities?.('audio');
  if (!capabilities || !('setCodecPreferences' in RTCRtpTransceiver.prototype)) return undefined;
  const opus = capabilities.codecs.filter((c) => c.mimeType.toLowerCase() === 'audio/opus');
  return opus.length > 0 ? opus : undefined;
}

/** A coded refusal from the server (or a missing microphone), as opposed to a network failure. */
function isRefusal(err) {
  return typeof err?.code === 'string';
}
