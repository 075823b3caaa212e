/**
 * The OpenAPI document as served: it lints clean with an independent linter (Redocly's recommended
 * rules, no rule turned off), every operation has a stable camelCase operationId, and each lists
 * the answers a client must handle — 503 with Retry-After everywhere, 413/415/429 where a body is
 * taken, 401/403 where a token is, the join's 202 waiting room and its proof-of-work 403.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Operation {
  operationId?: string;
  requestBody?: unknown;
  security?: unknown[];
  responses: Record<string, { description: string; headers?: Record<string, unknown> }>;
}

describe('the OpenAPI document', () => {
  let t: TestServer;
  let text: string;
  let operations: Array<{ method: string; path: string; op: Operation }>;

  before(async () => {
    t = await startTestServer();
    const res = await fetch(`${t.url}/api/openapi.json`);
    assert.equal(res.status, 200);
    text = await res.text();
    const doc = JSON.parse(text) as { paths: Record<string, Record<string, Operation>> };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({ method: method.toUpperCase(), path, op })),
    );
  });
  after(() => t?.close());

  test('lints clean with Redocly’s recommended rules', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: text, absoluteRef: `${t.url}/api/openapi.json`, config });
    const listed = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    assert.deepEqual(listed, []);
  });

  test('every operation has a unique camelCase operationId', () => {
    const ids = operations.map(({ op }) => op.operationId ?? '');
    for (const [i, id] of ids.entries()) assert.match(id, /^[a-z][A-Za-z0-9]+$/, `${operations[i]?.method} ${operations[i]?.path}`);
    assert.equal(new Set(ids).size, ids.length, 'unique');
    for (const id of ['joinSpace', 'getPlaylist', 'getSpaceState', 'muteParticipant']) assert.ok(ids.includes(id), id);
  });

  test('every operation lists 400, 404 and 503 with Retry-After; one that takes a body also 413, 415 and 429 with Retry-After', () => {
    for (const { method, path, op } of operations) {
      const where = `${method} ${path}`;
      for (const status of ['400', '404', '503']) assert.ok(op.responses[status], `${where} lists ${status}`);
      assert.ok(op.responses['503']?.headers?.['Retry-After'], `${where}: 503 says Retry-After`);
      if (op.requestBody === undefined) continue;
      for (const status of ['401', '403', '413', '415', '429']) assert.ok(op.responses[status], `${where} lists ${status}`);
      assert.ok(op.responses['429']?.headers?.['Retry-After'], `${where}: 429 says Retry-After`);
    }
    const bodies = operations.filter(({ op }) => op.requestBody !== undefined).length;
    assert.ok(bodies >= 20, `${bodies} operations take a body`);
  });

  test('the join documents its waiting-room 202 with Retry-After and its proof-of-work 403; the state document its 304', () => {
    const join = operations.find(({ op }) => op.operationId === 'joinSpace')!.op;
    assert.ok(join.responses['200']);
    assert.ok(join.responses['202']?.headers?.['Retry-After'], '202 says Retry-After');
    assert.match(join.responses['202']!.description, /waiting room/);
    assert.match(join.responses['403']!.description, /pow_required/);
    assert.match(join.responses['409']!.description, /ticket_used/);
    const state = operations.find(({ op }) => op.operationId === 'getSpaceState')!.op;
    assert.ok(state.responses['304']);
    const playlist = operations.find(({ op }) => op.operationId === 'getPlaylist')!.op as Operation & {
      responses: Record<string, { content?: Record<string, unknown> }>;
    };
    assert.ok(playlist.responses['200']?.content?.['application/vnd.apple.mpegurl'], 'the playlist is documented as a playlist');
  });
});
