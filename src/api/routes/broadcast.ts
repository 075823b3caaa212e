/**
 * The broadcast over HTTP, made for shared caches: LL-HLS playlists with blocking reload, parts,
 * segments and init segments (immutable, cached for a year), the recording as one file, and each
 * host's podcast feed. Every response carries CORS for browser players (security-headers.ts).
 * Playlists are short-lived (1 s), and a blocking request's answer is keyed by its query, which a
 * cache must include in its key (deploy/nginx/edge.conf does). Query parameters other than the
 * blocking-reload ones are ignored everywhere here: a CDN's signed-URL token or a player's
 * cache-buster must not break playback. Playlists and feeds are gzipped for clients that ask
 * (compression.ts); media never is.
 */
import send from '@fastify/send';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { hostArtwork } from '../../broadcast/artwork.js';
import { renderFeed } from '../../broadcast/feed.js';
import type { Packager } from '../../broadcast/packager.js';
import type { PlaylistKind } from '../../broadcast/playlist.js';
import type { LiveSpace } from '../../control/live-space.js';
import { fail } from '../../errors.js';
import { asIdentity, asSpaceId, IDENTITY_PATTERN, type SpaceId } from '../../ids.js';
import type { ApiDeps } from '../deps.js';
import { ErrorResponses, NotModified, SpaceIdParam } from '../schemas.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
/** How long a request for a live space whose broadcast is starting here waits for it, ms. */
export const STARTING_WAIT_MS = 2000;
/** init-N.mp4, M.m4s, M.P.m4s (a part), M.pA-B.m4s (parts A to B−1 of segment M: a trimmed replay's edge, replay-trim.ts). */
const HLS_FILE = /^(?:init-(\d{1,6})\.mp4|(\d{1,9})\.m4s|(\d{1,9})\.(\d{1,3})\.m4s|(\d{1,9})\.p(\d{1,3})-(\d{1,3})\.m4s)$/;

const BlockingQuery = Type.Object(
  {
    _HLS_msn: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e9 })),
    _HLS_part: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000 })),
    // Delta updates are not offered (no CAN-SKIP-UNTIL), so a client sending this gets the full playlist.
    _HLS_skip: Type.Optional(Type.String({ maxLength: 3 })),
  },
  // Open, unlike the API's queries: anything else (a CDN token, a cache-buster) is ignored.
  { additionalProperties: true },
);
const PLAYLIST = 'application/vnd.apple.mpegurl';
/** A 200 whose body is not JSON, for the OpenAPI document. */
const body = (type: string, description: string, format?: 'binary') => ({
  description,
  content: { [type]: { schema: { type: 'string', ...(format ? { format } : {}) } } },
});
const FileParams = Type.Object({ id: SpaceIdParam.properties.id, file: Type.String({ maxLength: 40 }) }, { additionalProperties: false });
const FeedParams = Type.Object({ file: Type.String({ maxLength: 140 }) }, { additionalProperties: false });
const identityRe = new RegExp(IDENTITY_PATTERN);

export function broadcastRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { audience, spaces, urls, broadcaster } = deps;

  const spaceOf = async (id: string): Promise<LiveSpace> => audience.held(asSpaceId(id)) ?? audience.resolve(asSpaceId(id));
  const packagerOf = async (id: string): Promise<{ live: LiveSpace; packager: Packager }> => {
    const live = await spaceOf(id);
    const ended = live.space.state === 'ended';
    // Its recording off, or deleted by its host: nothing of it is served, whatever is left on a disk.
    if (ended && !live.space.recording) throw fail('broadcast_not_found');
    let packager = live.space.state === 'scheduled' ? undefined : await broadcaster.packager(live.space.id, ended, live.space.replayTrim);
    // Live, but its broadcast is not running here yet: it is starting (the node just took the space
    // over, or just started). A moment's wait, then a retry-able 503 — a 404 would tell a player
    // the stream is gone.
    for (const until = Date.now() + STARTING_WAIT_MS; !packager && live.space.state === 'live' && Date.now() < until; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      packager = await broadcaster.packager(live.space.id, false);
    }
    if (!packager) throw live.space.state === 'live' ? fail('broadcast_starting', undefined, 1) : fail('broadcast_not_found');
    // Just ended: the encoder is flushing its last part; answer with the final VOD playlist.
    if (ended && !packager.ended) await packager.waitUntil(() => packager.ended, packager.blockMs);
    return { live, packager };
  };

  const playlist = async (id: string, kind: PlaylistKind, msn: number | undefined, part: number | undefined, reply: FastifyReply) => {
    if (part !== undefined && msn === undefined) throw fail('hls_bad_request', '_HLS_part needs _HLS_msn.');
    const { packager } = await packagerOf(id);
    // A broadcast's first instants: hold the first playlist until two whole segments exist — two
    // parts after the start, since a run's first segments are one part long (config.ts). Measured
    // with hls.js 1.7 (docs/players.md): with none it fails ("No Segments found") and retries 2 s
    // later; ffmpeg takes a 404 or 503 on its first playlist as final.
    if (msn === undefined && !packager.ended) {
      await packager.waitUntil(() => packager.startable, packager.blockMs);
    }
    if (msn !== undefined && kind === 'll') {
      if (msn > packager.lastMsn + 2 && !packager.ended) throw fail('hls_too_far_ahead');
      const ready = await packager.waitUntil(
        () => (part === undefined ? packager.hasSegment(msn) : packager.hasPart(msn, part)),
        packager.blockMs,
      );
      if (!ready) throw fail('hls_not_ready', undefined, 1);
    }
    // A player starting the replay (not one reading on from a position).
    if (packager.ended && msn === undefined) deps.replays.play(asSpaceId(id));
    reply
      .type(PLAYLIST)
      // A replay's playlist changes when its host trims it: an edge keeps it a minute.
      .header('cache-control', packager.ended ? 'public, max-age=60' : msn !== undefined ? 'public, max-age=6' : 'public, max-age=1');
    return reply.send(packager.playlist(kind));
  };

  // Listeners' reads: served under overload unless the server is far behind (api/lanes.ts).
  // The live window and the recording are on the disk of the node that runs the space (forward.ts).
  const reads = { lane: 'reads' as const, owner: true };
  const schema = <T extends object>(operationId: string, summary: string, ok: object, extra: T) => ({
    tags: ['broadcast'],
    operationId,
    summary,
    security: [],
    response: { 200: ok, ...ErrorResponses },
    ...extra,
  });
  const playlistBody = body(PLAYLIST, 'The playlist (RFC 8216bis).');

  r.get(
    '/hls/:id/index.m3u8',
    {
      config: { compress: 'shared', owner: true },
      schema: schema('getPlaylist', 'The LL-HLS media playlist (blocking reload with _HLS_msn/_HLS_part); VOD once ended', playlistBody, {
        params: SpaceIdParam,
        querystring: BlockingQuery,
      }),
    },
    (request, reply) => playlist(request.params.id, 'll', request.query._HLS_msn, request.query._HLS_part, reply),
  );
  r.get(
    '/hls/:id/plain.m3u8',
    {
      config: { ...reads, compress: 'shared' },
      schema: schema('getPlainPlaylist', 'The same broadcast as whole segments, for players without LL-HLS; VOD once ended', playlistBody, {
        params: SpaceIdParam,
      }),
    },
    (request, reply) => playlist(request.params.id, 'plain', undefined, undefined, reply),
  );
  r.get(
    '/hls/:id/:file',
    {
      config: reads,
      schema: schema(
        'getMediaObject',
        "An init segment (init-N.mp4), a segment (M.m4s), a part (M.P.m4s) or a trimmed replay's slice of a segment (M.pA-B.m4s)",
        body('audio/mp4', 'The object (fragmented MP4, AAC); immutable.', 'binary'),
        { params: FileParams },
      ),
    },
    async (request, reply) => {
      const match = HLS_FILE.exec(request.params.file);
      if (!match) throw fail('hls_object_not_found');
      const { packager } = await packagerOf(request.params.id);
      let body: Buffer | undefined;
      if (match[1] !== undefined) body = await packager.init(Number(match[1]));
      else if (match[2] !== undefined) body = await packager.segment(Number(match[2]));
      else if (match[5] !== undefined) body = await packager.segment(Number(match[5]), [Number(match[6]), Number(match[7])]);
      else {
        const msn = Number(match[3]);
        const index = Number(match[4]);
        // A preload-hinted part is asked for before it exists: hold the request until it does.
        if (!packager.hasPart(msn, index) && msn <= packager.lastMsn + 1) {
          if (!(await packager.waitUntil(() => packager.hasPart(msn, index), packager.blockMs))) throw fail('hls_not_ready', undefined, 1);
        }
        body = packager.part(msn, index);
      }
      if (!body) throw fail('hls_object_not_found');
      return reply.type('audio/mp4').header('cache-control', IMMUTABLE).send(body);
    },
  );

  r.get(
    '/api/spaces/:id/recording.m4a',
    {
      config: reads,
      schema: schema(
        'getRecording',
        'The recording as one downloadable file (AAC in MP4, byte ranges supported)',
        body('audio/mp4', 'The whole recording.', 'binary'),
        {
          params: SpaceIdParam,
          response: {
            200: body('audio/mp4', 'The whole recording.', 'binary'),
            206: body('audio/mp4', 'The byte range asked for (Range).', 'binary'),
            304: NotModified,
            416: { description: 'The Range asked for lies outside the file.', type: 'null' },
            ...ErrorResponses,
          },
        },
      ),
    },
    async (request, reply) => {
      const live = await spaceOf(request.params.id);
      const id: SpaceId = live.space.id;
      if (live.space.state !== 'ended' || !live.space.recording) throw fail('recording_not_found');
      if (broadcaster.isFinishing(id)) throw fail('recording_pending', undefined, 2);
      const recording = broadcaster.recording(id);
      const file = await recording.file();
      if (!file) throw (await recording.making()) ? fail('recording_pending', undefined, 2) : fail('recording_not_found');
      // A download is counted once, from its first byte (players and download managers fetch the rest in ranges).
      const range = request.headers.range;
      if (!range || /^bytes=0-/.test(range)) deps.replays.download(id);
      const { statusCode, headers, stream } = await send(request.raw, file, {
        acceptRanges: true,
        etag: true,
        lastModified: true,
        // Made again when the host trims the replay: caches keep it a minute, then revalidate (ETag).
        maxAge: 60_000,
      });
      const raw = reply as FastifyReply; // the body is a file stream, outside the JSON response schemas
      return raw
        .code(statusCode)
        .headers(headers)
        .header('content-type', 'audio/mp4')
        .header('content-disposition', `attachment; filename="${id}.m4a"`)
        .send(stream);
    },
  );

  r.get(
    '/feeds/:file',
    {
      config: { compress: 'shared' },
      schema: schema(
        'getPodcastFeed',
        "A host's podcast feed, /feeds/<host identity>.rss (RSS 2.0 with the iTunes tags Apple Podcasts requires), and its default artwork, /feeds/<host identity>.png",
        body('application/rss+xml', 'The feed.'),
        { params: FeedParams },
      ),
    },
    async (request, reply) => {
      const [, host = '', extension] = /^(.*)\.(rss|png)$/.exec(request.params.file) ?? [];
      if (!identityRe.test(host)) throw fail('feed_not_found', 'Feeds are at /feeds/<host identity>.rss (artwork: .png).');
      const hosted = await spaces.list({ hostIdentity: asIdentity(host), limit: 500 });
      if (hosted.length === 0) throw fail('feed_not_found');
      if (extension === 'png') {
        return reply.type('image/png').header('cache-control', 'public, max-age=86400').send(hostArtwork(host));
      }
      const settings = await spaces.hostFeed(asIdentity(host));
      const made = await broadcaster.recordings.infos(hosted.filter((s) => s.state === 'ended').map((s) => s.id));
      const items = hosted.flatMap((space) => {
        const recording = made.get(space.id);
        return recording ? [{ space, recording, pageUrl: urls.page(space.id), recordingUrl: urls.recording(space.id) }] : [];
      });
      return reply
        .type('application/rss+xml; charset=utf-8')
        .header('cache-control', 'public, max-age=60')
        .send(
          renderFeed({
            hostName: hosted[0]!.hostName,
            feedUrl: urls.feed(host),
            siteUrl: urls.base,
            defaultImageUrl: urls.artwork(host),
            ...(settings ? { settings } : {}),
            items,
          }),
        );
    },
  );
}
