/**
 * A static asset (the web app's hashed files, the browser modules, the icon), read once, and
 * compressed once per process on its first request for each coding — in libuv's thread pool, never
 * on the event loop — then served from memory. Compressing at start-up instead would cost every
 * server start (every test starts several) ~0.1 s of CPU for assets few of them serve; per request
 * it would cost ~14 ms (gzip -9 of hls.js) each time. Measured here on the 389 KB hls.js light
 * build: gzip -9 120 KB in 13 ms; brotli quality 6 112 KB in 19 ms (quality 11: 101 KB, 630 ms —
 * a first listener should not wait that long).
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Coding, MIN_COMPRESS_BYTES, staticCodings, varyOnEncoding } from './compression.js';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);
const BROTLI_QUALITY = 6;

export class StaticFile {
  /** Strong validator of the identity bytes; each coding gets its own (RFC 9110 §8.8.3). */
  readonly etag: string;
  private readonly encoded = new Map<Coding, Promise<Buffer>>();

  constructor(
    readonly body: Buffer,
    readonly type: string,
    readonly cacheControl: string,
  ) {
    this.etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
  }

  private compressed(coding: Coding): Promise<Buffer> {
    let held = this.encoded.get(coding);
    if (!held) {
      held =
        coding === 'gzip'
          ? gzipAsync(this.body, { level: 9 })
          : brotliAsync(this.body, {
              params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: this.body.length },
            });
      this.encoded.set(coding, held);
    }
    return held;
  }

  /** Answers the request: 304 when its If-None-Match names this representation, else the bytes in the best coding the client takes. */
  async send(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const coding = this.body.length >= MIN_COMPRESS_BYTES ? staticCodings.choose(request.headers['accept-encoding']) : undefined;
    const etag = coding ? `${this.etag.slice(0, -1)}-${coding}"` : this.etag;
    reply.header('cache-control', this.cacheControl).header('etag', etag).type(this.type);
    if (this.body.length >= MIN_COMPRESS_BYTES) varyOnEncoding(request, reply);
    const match = request.headers['if-none-match'];
    if (match?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)) return reply.code(304).send();
    if (!coding) return reply.send(this.body);
    const body = await this.compressed(coding);
    return reply.header('content-encoding', coding).send(body);
  }
}
