/**
 * The broadcast over HTTP as players and caches use it: playlists, the feed and the state document
 * are gzipped for clients that ask (with Vary), a cache that asks with no Accept-Encoding gets
 * identity and no Vary (nginx would keep a copy per client header otherwise), media is never
 * compressed; and every broadcast URL ignores query parameters it does
 * not know (a CDN's signed-URL token, a cache-buster) while the blocking-reload ones stay checked.
 * Raw bytes through undici's request(), which never decompresses.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { SharedGzip } from '../src/api/compression.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

async function raw(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

/** The body as text, decompressed when it was gzipped. */
const text = (res: Raw): string => (res.headers['content-encoding'] === 'gzip' ? gunzipSync(res.body) : res.body).toString();

const DECORATION = 'token=exp%3D1999999999~hmac%3Dabc123&cb=42';

describe('the broadcast over HTTP, compressed and decorated', () => {
  let t: TestServer;
  let id: string;
  let playlist: string;
  let init: string;
  let segment: string;
  let part: string;

  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true });
    // The first playlist waits for two segments; then a blocking reload for a few more, so it is well over 1 KB.
    assert.equal((await raw(`${t.url}/hls/${id}/index.m3u8`)).status, 200);
    assert.equal((await raw(`${t.url}/hls/${id}/index.m3u8?_HLS_msn=3`)).status, 200);
    const live = await raw(`${t.url}/hls/${id}/index.m3u8?_HLS_msn=4`);
    assert.equal(live.status, 200, live.body.toString());
    playlist = live.body.toString();
    init = /#EXT-X-MAP:URI="([^"]+)"/.exec(playlist)![1]!;
    segment = playlist.split('\n').find((line) => /^\d+\.m4s$/.test(line))!;
    part = /#EXT-X-PART:[^\n]*URI="([^"]+)"/.exec(playlist)![1]!;
  });
  after(() => t?.close());

  test('a live playlist is gzipped for a client that accepts gzip, with Vary: Accept-Encoding', async () => {
    const res = await raw(`${t.url}/hls/${id}/index.m3u8`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.match(String(res.headers.vary), /Accept-Encoding/i);
    const playlist = gunzipSync(res.body).toString();
    assert.match(playlist, /^#EXTM3U/);
    assert.ok(res.body.length < Buffer.byteLength(playlist) / 2, `${res.body.length} bytes for ${Buffer.byteLength(playlist)}`);
  });

  test('a shared cache asking with no Accept-Encoding gets identity and no Vary, so it keeps one copy for every client', async () => {
    const res = await raw(`${t.url}/hls/${id}/index.m3u8`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.vary, undefined);
    assert.match(res.body.toString(), /^#EXTM3U/);
    const refused = await raw(`${t.url}/hls/${id}/plain.m3u8`, { 'accept-encoding': 'gzip;q=0, identity' });
    assert.equal(refused.headers['content-encoding'], undefined, 'gzip;q=0 means no gzip');
    assert.match(String(refused.headers.vary), /Accept-Encoding/i, 'a client that named codings is told the answer varies');
  });

  test('parts, segments and init segments are never compressed', async () => {
    for (const file of [init, segment, part]) {
      const res = await raw(`${t.url}/hls/${id}/${file}`, { 'accept-encoding': 'gzip, br' });
      assert.equal(res.status, 200, file);
      assert.equal(res.headers['content-type'], 'audio/mp4');
      assert.equal(res.headers['content-encoding'], undefined, file);
      assert.equal(res.headers.vary, undefined, file);
    }
  });

  test('every broadcast URL ignores unknown query parameters: playlists, init, segments, parts, the state document', async () => {
    for (const path of [`index.m3u8`, `plain.m3u8`, init, segment, part]) {
      const res = await raw(`${t.url}/hls/${id}/${path}?${DECORATION}`);
      assert.equal(res.status, 200, `${path}: ${res.body.toString().slice(0, 200)}`);
    }
    const blocking = await raw(`${t.url}/hls/${id}/index.m3u8?_HLS_msn=1&_HLS_part=0&${DECORATION}`);
    assert.equal(blocking.status, 200, 'a blocking request keeps its own parameters alongside others');
    assert.equal((await raw(`${t.url}/api/spaces/${id}/state?${DECORATION}`)).status, 200);
    assert.equal((await raw(`${t.url}/s/${id}?utm_source=newsletter`)).status, 200, 'the share page');
  });

  test('a malformed _HLS_msn or _HLS_part is still 400 hls_bad_request', async () => {
    for (const query of ['_HLS_msn=abc', '_HLS_msn=-1', '_HLS_msn=2&_HLS_part=x', '_HLS_part=1', `_HLS_msn=abc&${DECORATION}`]) {
      const res = await raw(`${t.url}/hls/${id}/index.m3u8?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(JSON.parse(res.body.toString()).error.code, 'hls_bad_request', query);
    }
  });

  test('the recording and the feed ignore unknown query parameters; the feed is gzipped, the recording never', async () => {
    const host = t.token(id, 'h', 'host');
    assert.equal((await t.api.post(`/api/spaces/${id}/end`, { token: host })).status, 200);
    let recording: Raw | undefined;
    for (let i = 0; i < 40; i++) {
      recording = await raw(`${t.url}/api/spaces/${id}/recording.m4a?${DECORATION}`, { 'accept-encoding': 'gzip' });
      if (recording.status !== 503) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    assert.equal(recording?.status, 200);
    assert.equal(recording?.headers['content-encoding'], undefined);
    assert.equal(recording?.headers['content-type'], 'audio/mp4');

    const feed = await raw(`${t.url}/feeds/h.rss?${DECORATION}`, { 'accept-encoding': 'gzip' });
    assert.equal(feed.status, 200, feed.body.toString());
    assert.match(String(feed.headers.vary), /Accept-Encoding/i);
    const xml = text(feed);
    assert.match(xml, /<rss/);
    if (Buffer.byteLength(xml) >= 1024) assert.equal(feed.headers['content-encoding'], 'gzip');

    const vod = await raw(`${t.url}/hls/${id}/index.m3u8?${DECORATION}`, { 'accept-encoding': 'gzip' });
    assert.equal(vod.status, 200);
    assert.match(text(vod), /#EXT-X-ENDLIST/);
  });

  test('the state document answers If-None-Match with 304 to a client that takes gzip, with Vary', async () => {
    const first = await raw(`${t.url}/api/spaces/${id}/state`, { 'accept-encoding': 'gzip' });
    assert.equal(first.status, 200);
    const etag = String(first.headers.etag);
    const again = await raw(`${t.url}/api/spaces/${id}/state`, { 'accept-encoding': 'gzip', 'if-none-match': etag });
    assert.equal(again.status, 304, `If-None-Match ${etag}`);
    assert.match(String(again.headers.vary), /Accept-Encoding/i);
  });
});

describe('compressing what many clients get', () => {
  test('a shared body is compressed once and the same bytes reused until it changes', () => {
    const shared = new SharedGzip(2);
    const v1 = '#EXTM3U\n'.repeat(300);
    const first = shared.gzip(v1);
    assert.equal(shared.gzip(v1), first);
    assert.deepEqual([shared.misses, shared.hits], [1, 1]);
    const v2 = `${v1}#EXT-X-PART\n`;
    assert.notEqual(shared.gzip(v2), first);
    assert.equal(gunzipSync(shared.gzip(v2)).toString(), v2);
    shared.gzip('a');
    shared.gzip('b');
    assert.equal(shared.misses, 4, 'the oldest bodies fall out first');
  });
});
