/**
 * Compression of text answers (playlists — RFC 8216bis §6.2.1 says a server SHOULD — pages, JSON,
 * the podcast feed), made for a server whose hot paths must not pay for it:
 * - only routes that ask for it (`config.compress`) get the hook: parts, segments, the recording,
 *   the join and every write pay nothing; media is never compressed (AAC does not shrink);
 * - only gzip (every client has it), only for clients that send `Accept-Encoding` with it (a shared
 *   cache in front asks with none, gets identity without Vary, and compresses itself), only from
 *   1 KB up;
 * - `shared` answers (the same bytes to many: playlists, the state document, feeds, pages) are
 *   compressed once per distinct body and reused. Measured here: gzip of a 1.7 KB live playlist
 *   (four segments, the parts of the last two) takes 25 µs and gives 364 bytes; taking it from
 *   this cache takes 0.02 µs. A playlist is asked for many times a second between two parts (every
 *   blocked request is answered at once with the same text), so at 1,000 playlists a second the
 *   cache saves about 2.5 % of a core.
 * Static assets are compressed once, with brotli too, by static-file.ts.
 */

import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler, RouteOptions } from 'fastify';
import Negotiator from 'negotiator';

export type Coding = 'br' | 'gzip';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Gzip this route's text answers for clients that accept it: `shared` when many clients get the
     * same bytes (compressed once per distinct body), `each` when answers differ per request.
     */
    compress?: 'shared' | 'each';
  }
}

/** Below this many bytes a body goes as it is (it fits a packet or two either way). */
export const MIN_COMPRESS_BYTES = 1024;
/** Distinct bodies whose gzip is kept (a playlist changes every part; older ones fall out first). */
const SHARED_ENTRIES = 256;
/** Distinct Accept-Encoding values whose verdict is kept (browsers send a handful). */
const VERDICTS_KEPT = 64;
const TEXT = /^(?:text\/|application\/(?:json|vnd\.apple\.mpegurl|rss\+xml|xml|javascript)|image\/svg\+xml)/;

/** What each Accept-Encoding value allows, by the codings offered; parsed once per distinct value. */
class CodingChooser {
  private readonly verdicts = new Map<string, Coding | undefined>();

  constructor(private readonly offered: readonly Coding[]) {}

  choose(header: string | string[] | undefined): Coding | undefined {
    // No header (a cache in front, curl): identity, without parsing anything.
    if (header === undefined || header === '') return undefined;
    const value = Array.isArray(header) ? header.join(', ') : header;
    if (this.verdicts.has(value)) return this.verdicts.get(value);
    const negotiator = new Negotiator({ headers: { 'accept-encoding': value } });
    // Ties in the client's q-values go to the first coding offered (the smallest output).
    const chosen = (negotiator.encoding as (available: string[], options: { preferred: string[] }) => string | undefined)(
      [...this.offered, 'identity'],
      { preferred: [...this.offered] },
    );
    const verdict = this.offered.find((coding) => coding === chosen);
    if (this.verdicts.size >= VERDICTS_KEPT) this.verdicts.clear();
    this.verdicts.set(value, verdict);
    return verdict;
  }
}

/** gzip alone, for dynamic answers. */
export const dynamicCodings = new CodingChooser(['gzip']);
/** brotli, then gzip, for static assets compressed once. */
export const staticCodings = new CodingChooser(['br', 'gzip']);

/**
 * The gzip of bodies many clients get, by content. A playlist is one string object between changes,
 * so a lookup hashes it once and then compares by identity.
 */
export class SharedGzip {
  private readonly bodies = new Map<string, Buffer>();
  hits = 0;
  misses = 0;

  constructor(private readonly entries: number = SHARED_ENTRIES) {}

  gzip(body: string): Buffer {
    const held = this.bodies.get(body);
    if (held) {
      this.hits++;
      return held;
    }
    this.misses++;
    const compressed = gzipSync(body);
    if (this.bodies.size >= this.entries) this.bodies.delete(this.bodies.keys().next().value as string);
    this.bodies.set(body, compressed);
    return compressed;
  }
}

/**
 * Adds `Accept-Encoding` to the response's Vary header (keeping what is there) — when the request
 * named codings. A request without the header (the nginx edge asks so, on purpose) gets identity,
 * which every client can take, and no Vary: nginx keys its cached variants on its *clients'*
 * Accept-Encoding values, so a Vary here would split each playlist and part into one copy (and
 * one origin fetch) per distinct browser header, undoing request collapsing.
 */
export function varyOnEncoding(request: FastifyRequest, reply: FastifyReply): void {
  const asked = request.headers['accept-encoding'];
  if (asked === undefined || asked === '') return;
  const vary = reply.getHeader('vary');
  if (vary === undefined) reply.header('vary', 'Accept-Encoding');
  else if (!/accept-encoding/i.test(String(vary))) reply.header('vary', `${String(vary)}, Accept-Encoding`);
}

/** A strong ETag becomes weak on a compressed copy (RFC 9110 §8.8.1: strong ones name one representation). */
function weakenEtag(reply: FastifyReply): void {
  const etag = reply.getHeader('etag');
  if (typeof etag === 'string' && etag.startsWith('"')) reply.header('etag', `W/${etag}`);
}

function compressHook(mode: 'shared' | 'each', shared: SharedGzip): onSendHookHandler {
  return (request: FastifyRequest, reply: FastifyReply, payload: unknown, done) => {
    // Whatever its size this time, the answer at this URL depends on Accept-Encoding (a 304 says so too).
    if (reply.statusCode === 304) varyOnEncoding(request, reply);
    if (reply.statusCode !== 200 || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return done(null, payload);
    if (!TEXT.test(String(reply.getHeader('content-type') ?? ''))) return done(null, payload);
    varyOnEncoding(request, reply);
    const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    if (bytes < MIN_COMPRESS_BYTES || dynamicCodings.choose(request.headers['accept-encoding']) !== 'gzip') return done(null, payload);
    const body = mode === 'shared' && typeof payload === 'string' ? shared.gzip(payload) : gzipSync(payload);
    reply.header('content-encoding', 'gzip');
    weakenEtag(reply);
    done(null, body);
  };
}

/** Adds the compression hook to every route that asks for it, as the route is registered. */
export function registerCompression(app: FastifyInstance, shared: SharedGzip = new SharedGzip()): SharedGzip {
  app.addHook('onRoute', (route: RouteOptions) => {
    const mode = route.config?.compress;
    if (!mode) return;
    route.onSend = [...[route.onSend ?? []].flat(), compressHook(mode, shared)];
  });
  return shared;
}
