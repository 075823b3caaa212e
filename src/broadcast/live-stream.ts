/**
 * A space's broadcast as one progressive HTTP stream of ADTS AAC (`/listen/<id>.aac`), the Icecast
 * model: a listener holds one response and is sent each part as it is made — one write per part, no
 * playlist, no request per part. What LL-HLS costs an edge in requests (about eight a listener a
 * second with 256 ms parts), this costs in one held connection, and any player plays it: radio apps,
 * smart speakers, VLC, ffmpeg, a plain <audio>.
 *
 * Two ways out, from the node that runs the space:
 * - straight to listeners connected here (a single node, or behind an edge without nchan): each
 *   gets the parts from the one it connected during, and is cut off if it falls 8 s behind (a
 *   stalled reader must not hold the node's memory) — counted;
 * - to nginx edges with nchan (deploy/nginx/stream.conf): each part is POSTed, in order, to every
 *   edge's publisher, and the edges fan it out in C to their listeners. A slow or absent edge loses
 *   parts rather than delaying the others or the node: at most 4 wait per edge, older ones are
 *   dropped and counted; its listeners hear a gap, as Icecast's would.
 *
 * Nothing here is sent before the broadcast's first part: what was said backstage never is.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { type AdtsConfig, adtsConfig, fragmentToAdts } from './adts.js';

/** A listener this far behind (bytes waiting in its socket, ≈ 8 s at 64 kb/s) is cut off. */
const MAX_BEHIND_BYTES = 64 * 1024;
/** Parts waiting for one edge beyond which the oldest are dropped. */
const MAX_EDGE_QUEUE = 4;
const EDGE_TIMEOUT_MS = 2000;

export interface StreamEdges {
  /** Each edge's publisher, the channel id appended: e.g. http://edge-1:8081/rostrum-stream/ (ROSTRUM_STREAM_EDGES). */
  urls: string[];
  /** Sent as X-Rostrum-Stream-Key; the edge's stream.conf refuses a publisher without it (ROSTRUM_STREAM_EDGE_KEY). */
  key: string;
}

/** What every live stream on this node has done, for /metrics. */
export class StreamCounters {
  listeners = 0;
  /** Listeners cut off for falling behind. */
  cutOff = 0;
  /** Parts an edge did not take (refused, unreachable, or dropped from a full queue). */
  edgeLost = 0;
  edgeSent = 0;
}

class EdgePublisher {
  private readonly queue: Buffer[] = [];
  private sending = false;
  private failing = false;

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly counters: StreamCounters,
    private readonly log: Logger,
  ) {}

  publish(chunk: Buffer): void {
    this.queue.push(chunk);
    while (this.queue.length > MAX_EDGE_QUEUE) {
      this.queue.shift();
      this.counters.edgeLost++;
    }
    void this.drain();
  }

  /** Ends the channel at the edge: nchan closes its listeners' responses. */
  async close(): Promise<void> {
    this.queue.length = 0;
    await fetch(this.url, {
      method: 'DELETE',
      headers: { 'x-rostrum-stream-key': this.key },
      signal: AbortSignal.timeout(EDGE_TIMEOUT_MS),
    }).catch(() => {});
  }

  private async drain(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      for (let chunk = this.queue.shift(); chunk; chunk = this.queue.shift()) {
        try {
          const response = await fetch(this.url, {
            method: 'POST',
            headers: { 'content-type': 'application/octet-stream', 'x-rostrum-stream-key': this.key },
            body: chunk,
            signal: AbortSignal.timeout(EDGE_TIMEOUT_MS),
          });
          await response.arrayBuffer();
          if (!response.ok) throw new Error(`the edge answered ${response.status}`);
          this.counters.edgeSent++;
          if (this.failing) this.log.info({ edge: this.url }, 'the stream edge takes parts again');
          this.failing = false;
        } catch (err) {
          this.counters.edgeLost++;
          // Said once per outage, not per part.
          if (!this.failing)
            this.log.warn({ edge: this.url, err: (err as Error).message }, 'a stream edge did not take a part; its listeners hear a gap');
          this.failing = true;
        }
      }
    } finally {
      this.sending = false;
    }
  }
}

export class LiveStream {
  private config: AdtsConfig | undefined;
  private readonly listeners = new Set<ServerResponse>();
  private readonly edges: EdgePublisher[];
  private ended = false;

  constructor(
    spaceId: string,
    edges: StreamEdges | undefined,
    private readonly counters: StreamCounters,
    private readonly log: Logger,
  ) {
    this.edges = (edges?.urls ?? []).map((url) => new EdgePublisher(`${url}${encodeURIComponent(spaceId)}`, edges!.key, counters, log));
  }

  /** A new encoder run: its init segment says what the ADTS headers say. */
  runStarted(init: Buffer): void {
    try {
      this.config = adtsConfig(init);
    } catch (err) {
      this.config = undefined;
      this.log.error({ err }, 'the encoder init segment cannot be streamed as ADTS; /listen is silent until the next run');
    }
  }

  /** One part: to every listener here and every edge. */
  part(moof: Buffer, mdat: Buffer): void {
    if (!this.config || this.ended) return;
    let chunk: Buffer;
    try {
      chunk = fragmentToAdts(this.config, moof, mdat);
    } catch (err) {
      this.log.error({ err }, 'a part could not be streamed as ADTS; listeners hear a gap');
      return;
    }
    for (const listener of this.listeners) {
      if (listener.writableLength > MAX_BEHIND_BYTES) {
        this.counters.cutOff++;
        listener.destroy();
        continue;
      }
      listener.write(chunk);
    }
    for (const edge of this.edges) edge.publish(chunk);
  }

  /** Streams to `response` (headers already sent) from the next part on, until it or the broadcast ends. */
  listen(response: ServerResponse): void {
    if (this.ended) {
      response.end();
      return;
    }
    this.listeners.add(response);
    this.counters.listeners++;
    response.once('close', () => {
      if (this.listeners.delete(response)) this.counters.listeners--;
    });
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** The broadcast ended: every listener's response ends, here and at the edges. */
  async end(): Promise<void> {
    this.stop();
    await Promise.all(this.edges.map((edge) => edge.close()));
  }

  /** The node stops or the space moves: listeners here are let go (players reconnect); edges keep their channel for the next node. */
  stop(): void {
    if (this.ended) return;
    this.ended = true;
    for (const listener of this.listeners) listener.end();
  }
}
