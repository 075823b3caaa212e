/**
 * Bad input never crashes the server or changes data: malformed JSON, wrong types, oversized
 * bodies, unknown fields, unknown ids, path traversal — each answered with its coded 4xx in the one
 * error shape, and the spaces are the same afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSpace } from './helpers/fixture.js';
import type { CallOptions } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface BadCase {
  name: string;
  method: string;
  path: (id: string) => string;
  options: (t: TestServer) => CallOptions;
  status: number;
  code: string;
}

const json = { 'content-type': 'application/json' };

const CASES: BadCase[] = [
  {
    name: 'malformed JSON',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, raw: '{"title": ', headers: json }),
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'JSON with a __proto__ key',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, raw: '{"title":"x","__proto__":{"admin":true}}', headers: json }),
    status: 400,
    code: 'invalid_json',
  },
  {
    name: 'a number where the title goes',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 123 } }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a string where a boolean goes',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 'x', recording: 'yes' } }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an empty title',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: '' } }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a title of 10,000 characters',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 'x'.repeat(10_000) } }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an array as the body',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: [{ title: 'x' }] }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an unknown field',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 'x', owner: 'me' } }),
    status: 400,
    code: 'unknown_field',
  },
  {
    name: 'an unknown nested field',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 'x', host: { identity: 'h', role: 'god' } } }),
    status: 400,
    code: 'unknown_field',
  },
  {
    name: 'an unknown field on a bodyless action',
    method: 'POST',
    path: (id) => `/api/spaces/${id}/start`,
    options: (t) => ({ token: t.operator, body: { force: true } }),
    status: 400,
    code: 'unknown_field',
  },
  {
    name: 'a malformed start time',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 'x', scheduledStart: 'tomorrow at 8' } }),
    status: 400,
    code: 'invalid_time',
  },
  {
    name: 'a start time in year 1200',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 'x', scheduledStart: '1200-01-01T00:00:00Z' } }),
    status: 400,
    code: 'invalid_time',
  },
  {
    name: 'an identity with a slash',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 'x', host: { identity: 'a/b' } } }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an emoji outside the reaction set',
    method: 'POST',
    path: (id) => `/api/spaces/${id}/reactions`,
    options: (t) => ({ token: t.operator, body: { emoji: '💩' } }),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a body over the size limit',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, body: { title: 'x', pad: 'y'.repeat(64 * 1024) } }),
    status: 413,
    code: 'body_too_large',
  },
  {
    name: 'a text/plain body',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, raw: 'title=x', headers: { 'content-type': 'text/plain' } }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'a form body',
    method: 'POST',
    path: () => '/api/spaces',
    options: (t) => ({ token: t.operator, raw: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'an unknown space id',
    method: 'GET',
    path: () => '/api/spaces/NoSuchSpace/state',
    options: () => ({}),
    status: 404,
    code: 'space_not_found',
  },
  {
    name: 'an unknown space id on join',
    method: 'POST',
    path: () => '/api/spaces/NoSuchSpace/join',
    options: () => ({}),
    status: 404,
    code: 'space_not_found',
  },
  {
    name: 'an unknown participant',
    method: 'POST',
    path: (id) => `/api/spaces/${id}/participants/nobody/mute`,
    options: (t) => ({ token: t.operator }),
    status: 404,
    code: 'participant_not_found',
  },
  {
    name: 'an encoded path traversal as the id',
    method: 'GET',
    path: () => '/api/spaces/..%2F..%2Fetc%2Fpasswd/state',
    options: () => ({}),
    status: 400,
    code: 'invalid_id',
  },
  { name: 'a dotted id', method: 'GET', path: () => '/api/spaces/.../state', options: () => ({}), status: 400, code: 'invalid_id' },
  {
    name: 'an id of 65 characters',
    method: 'GET',
    path: () => `/api/spaces/${'a'.repeat(65)}`,
    options: () => ({}),
    status: 400,
    code: 'invalid_id',
  },
  {
    name: 'an id with a NUL byte',
    method: 'GET',
    path: () => '/api/spaces/abc%00def',
    options: () => ({}),
    status: 400,
    code: 'invalid_id',
  },
  {
    name: 'a traversal in the identity',
    method: 'POST',
    path: (id) => `/api/spaces/${id}/participants/..%2Fh/mute`,
    options: (t) => ({ token: t.operator }),
    status: 400,
    code: 'invalid_id',
  },
  {
    name: 'a raw path traversal',
    method: 'GET',
    path: () => '/api/spaces/../../etc/passwd',
    options: () => ({}),
    status: 404,
    code: 'route_not_found',
  },
  {
    name: 'a query parameter of the wrong type',
    method: 'GET',
    path: () => '/api/spaces?limit=lots',
    options: () => ({}),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'an unknown query parameter',
    method: 'GET',
    path: () => '/api/spaces?owner=me',
    options: () => ({}),
    status: 400,
    code: 'unknown_field',
  },
  {
    name: 'an unknown state filter',
    method: 'GET',
    path: () => '/api/spaces?state=paused',
    options: () => ({}),
    status: 400,
    code: 'validation_failed',
  },
  {
    name: 'a malformed _HLS_msn (beside a parameter the playlist ignores)',
    method: 'GET',
    path: (id) => `/hls/${id}/index.m3u8?_HLS_msn=abc&token=signed`,
    options: () => ({}),
    status: 400,
    code: 'hls_bad_request',
  },
  { name: 'a broken %-escape', method: 'GET', path: () => '/api/spaces/%zz/state', options: () => ({}), status: 400, code: 'bad_url' },
  {
    name: 'an id of 300 characters',
    method: 'GET',
    path: () => `/api/spaces/${'a'.repeat(300)}/state`,
    options: () => ({}),
    status: 400,
    code: 'invalid_id',
  },
  {
    name: 'a wrong method',
    method: 'DELETE',
    path: (id) => `/api/spaces/${id}/join`,
    options: () => ({}),
    status: 405,
    code: 'method_not_allowed',
  },
  { name: 'an unknown route', method: 'GET', path: () => '/api/nothing-here', options: () => ({}), status: 404, code: 'route_not_found' },
];

describe('bad input', () => {
  let t: TestServer;
  let id: string;
  let before_: unknown;
  const listing = async () => (await t.api.get('/api/spaces?limit=500')).body;

  before(async () => {
    t = await startTestServer();
    id = await createSpace(t, { live: true });
    before_ = await listing();
  });
  after(() => t.close());

  for (const c of CASES) {
    test(`${c.name} is answered ${c.status} ${c.code}`, async () => {
      const res = await t.api.call(c.method, c.path(id), c.options(t));

      assert.equal(res.status, c.status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, c.code, JSON.stringify(res.body));
      assert.equal(typeof res.body.error.message, 'string');
      assert.deepEqual(Object.keys(res.body), ['error']);
    });
  }

  test('after all of it the server is healthy and no space changed', async () => {
    assert.equal((await t.api.get('/healthz')).status, 200);
    assert.deepEqual(await listing(), before_);
  });

  test('a 405 names the allowed methods', async () => {
    const res = await t.api.call('PUT', `/api/spaces/${id}/state`);
    assert.equal(res.status, 405);
    assert.match(res.headers.get('allow') ?? '', /GET/);
  });
});
