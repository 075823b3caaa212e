/**
 * The pages and the headers as browsers expect them, over real HTTP: security headers on every page,
 * nosniff on every response, CORS for pages on other origins (preflight and the answers themselves,
 * the join lane's included), the web app's assets compressed once and served with their ETag, an
 * error page for a browser that asks for a space or a path that does not exist (JSON for API
 * clients), and a favicon.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const OTHER_ORIGIN = 'https://operator.example';

async function raw(url: string, options: { method?: 'GET' | 'POST' | 'OPTIONS'; headers?: Record<string, string> } = {}) {
  const res = await request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

describe('pages and headers as browsers expect them', () => {
  let t: TestServer;
  let id: string;
  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: false, title: 'Headers night' });
  });
  after(() => t?.close());

  test('every page carries a CSP that forbids framing, X-Frame-Options, Referrer-Policy and nosniff', async () => {
    for (const path of ['/', `/s/${id}`, '/s/no-such-space', '/nothing/here']) {
      const res = await raw(`${t.url}${path}`, { headers: { accept: BROWSER_ACCEPT } });
      assert.match(String(res.headers['content-type']), /text\/html/, path);
      const csp = String(res.headers['content-security-policy']);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /script-src 'self'(;|$)/, `${path}: no inline scripts (${csp})`);
      assert.equal(res.headers['x-frame-options'], 'DENY', path);
      assert.equal(res.headers['referrer-policy'], 'no-referrer', path);
      assert.equal(res.headers['x-content-type-options'], 'nosniff', path);
    }
  });

  test('every response says nosniff: JSON, errors (a broken URL’s too), assets, the metrics, and a join answered by the join lane', async () => {
    const live = await createSpace(t, { live: true });
    const lane = await raw(`${t.url}/api/spaces/${live}/join`, { method: 'POST' });
    assert.equal(lane.status, 200);
    const responses = [
      lane,
      await raw(`${t.url}/api/spaces`),
      await raw(`${t.url}/api/spaces/nope-nope`),
      await raw(`${t.url}/api/spaces/%zz/state`),
      await raw(`${t.url}/healthz`),
      await raw(`${t.url}/metrics`),
      await raw(`${t.url}/assets/stage-client.js`),
    ];
    for (const res of responses) assert.equal(res.headers['x-content-type-options'], 'nosniff', String(res.headers['content-type']));
    const metrics = (await raw(`${t.url}/metrics`)).body.toString();
    assert.match(metrics, /rostrum_listener_joins_total\{way="lane"\} [1-9]/, 'that join came through the lane');
  });

  test('a preflight for a bearer-token call from another origin is answered 204 with the methods, the headers and a max age', async () => {
    const res = await raw(`${t.url}/api/spaces/${id}/stage`, {
      method: 'OPTIONS',
      headers: {
        origin: OTHER_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    assert.deepEqual(String(res.headers['access-control-allow-methods']).split(', ').sort(), ['DELETE', 'POST']);
    assert.match(String(res.headers['access-control-allow-headers']), /Authorization/);
    assert.match(String(res.headers['access-control-allow-headers']), /Content-Type/);
    assert.ok(Number(res.headers['access-control-max-age']) >= 600);

    for (const path of ['/api/spaces/x1/join', `/api/spaces/${id}/heartbeat`, `/api/spaces/${id}/state`, `/hls/${id}/index.m3u8`]) {
      const preflight = await raw(`${t.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'GET' },
      });
      assert.equal(preflight.status, 204, path);
    }
    const unknown = await raw(`${t.url}/api/nothing`, {
      method: 'OPTIONS',
      headers: { origin: OTHER_ORIGIN, 'access-control-request-method': 'POST' },
    });
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body.toString()).error.code, 'route_not_found');
  });

  test('another origin can read the API’s answers and their Retry-After: the join lane’s, the routes’ and the errors’', async () => {
    const live = await createSpace(t, { live: true });
    const answers = [
      await raw(`${t.url}/api/spaces/${live}/join`, { method: 'POST', headers: { origin: OTHER_ORIGIN } }),
      await raw(`${t.url}/api/spaces/${live}/state`, { headers: { origin: OTHER_ORIGIN } }),
      await raw(`${t.url}/api/spaces/nope-nope/state`, { headers: { origin: OTHER_ORIGIN } }),
    ];
    for (const res of answers) {
      assert.equal(res.headers['access-control-allow-origin'], '*', String(res.status));
      assert.match(String(res.headers['access-control-expose-headers']), /Retry-After/);
    }
    const page = await raw(`${t.url}/s/${live}`, { headers: { origin: OTHER_ORIGIN } });
    assert.equal(page.headers['access-control-allow-origin'], undefined, 'pages are not for other origins to read');
  });

  test('the listener page’s JavaScript goes out compressed (brotli or gzip), once made, with its ETag answering 304', async () => {
    const html = (await raw(`${t.url}/s/${id}`)).body.toString();
    const script = /<script type="module" crossorigin src="([^"]+)"/.exec(html)![1]!;
    const plain = await raw(`${t.url}${script}`);
    assert.equal(plain.headers['content-encoding'], undefined, 'identity without Accept-Encoding');
    for (const [coding, decode] of [
      ['br', brotliDecompressSync],
      ['gzip', gunzipSync],
    ] as const) {
      const res = await raw(`${t.url}${script}`, { headers: { 'accept-encoding': coding } });
      assert.equal(res.headers['content-encoding'], coding);
      assert.match(String(res.headers.vary), /Accept-Encoding/);
      assert.ok(decode(res.body).equals(plain.body), `${coding} decodes to the same script`);
      assert.ok(res.body.length < plain.body.length * 0.5, `${coding}: ${res.body.length} of ${plain.body.length} bytes`);
      const again = await raw(`${t.url}${script}`, { headers: { 'accept-encoding': coding, 'if-none-match': String(res.headers.etag) } });
      assert.equal(again.status, 304, coding);
    }
    const hls = await raw(`${t.url}/assets/hls.js?v=1`, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(hls.status, 200, 'an asset ignores a cache-buster');
    assert.equal(hls.headers['content-encoding'], 'br');
  });

  test('the API’s JSON lists and the OpenAPI document are gzipped for clients that ask, identity for the rest', async () => {
    await createSpace(t, { live: false, title: 'Another one' });
    for (const path of ['/api/spaces', '/api/openapi.json']) {
      const plain = await raw(`${t.url}${path}`);
      assert.ok(plain.body.length >= 1024, `${path} is ${plain.body.length} bytes`);
      assert.equal(plain.headers['content-encoding'], undefined, path);
      const zipped = await raw(`${t.url}${path}`, { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(zipped.headers['content-encoding'], 'gzip', path);
      assert.match(String(zipped.headers.vary), /Accept-Encoding/, path);
      assert.deepEqual(JSON.parse(gunzipSync(zipped.body).toString()), JSON.parse(plain.body.toString()), path);
    }
  });

  test('a browser asking for an unknown space gets a 404 page with a link home; an API client gets the JSON error', async () => {
    const page = await raw(`${t.url}/s/no-such-space`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(page.status, 404);
    const html = page.body.toString();
    assert.match(html, /data-error="space_not_found"/);
    assert.match(html, /<a href="\/">/);
    assert.match(html, /<link rel="stylesheet"/, 'in the app’s look');

    for (const accept of [undefined, 'application/json', '*/*']) {
      const api = await raw(`${t.url}/s/no-such-space`, { headers: accept ? { accept } : {} });
      assert.equal(api.status, 404);
      assert.deepEqual(Object.keys(JSON.parse(api.body.toString())), ['error'], String(accept));
    }
    const malformed = await raw(`${t.url}/s/${'x'.repeat(80)}`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(malformed.status, 400);
    assert.match(malformed.body.toString(), /data-error="invalid_id"/);
  });

  test('a browser following a link to an unknown path gets the 404 page; an API client gets route_not_found', async () => {
    const page = await raw(`${t.url}/some/old/link`, { headers: { accept: BROWSER_ACCEPT } });
    assert.equal(page.status, 404);
    assert.match(page.body.toString(), /data-error="route_not_found"/);
    const api = await raw(`${t.url}/some/old/link`);
    assert.equal(JSON.parse(api.body.toString()).error.code, 'route_not_found');
  });

  test('the pages link an icon, and /favicon.ico answers with it, cacheable', async () => {
    const html = (await raw(`${t.url}/`)).body.toString();
    const href = /<link rel="icon"[^>]*href="([^"]+)"/.exec(html)?.[1];
    assert.ok(href, 'the page links an icon');
    for (const path of [href, '/favicon.ico']) {
      const icon = await raw(`${t.url}${path}`);
      assert.equal(icon.status, 200, path);
      assert.equal(icon.headers['content-type'], 'image/svg+xml');
      assert.match(String(icon.headers['cache-control']), /max-age=\d{4,}/);
      assert.match(icon.body.toString(), /<svg/);
    }
  });
});
