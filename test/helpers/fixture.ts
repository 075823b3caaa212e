/**
 * A populated space for stage tests, built over the real HTTP API: host `h`, co-host `c`,
 * speakers `s` and `s2`, listener `l`, and listener `l2` (who has asked to speak once live).
 * Optionally a second co-host `c2`.
 */
import assert from 'node:assert/strict';
import type { Role } from '../../src/control/model.js';
import type { TestServer } from './server.js';

export interface StageFixture {
  id: string;
  tokens: Record<'host' | 'cohost' | 'cohost2' | 'speaker' | 'speaker2' | 'listener' | 'listener2' | 'operator', string>;
}

export async function createSpace(t: TestServer, options: { live: boolean; title?: string }): Promise<string> {
  const created = await t.api.post('/api/spaces', {
    token: t.operator,
    body: { title: options.title ?? 'Fixture', host: { identity: 'h', name: 'Hana' }, startNow: options.live },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id as string;
}

export async function stageFixture(t: TestServer, options: { live: boolean; secondCohost?: boolean }): Promise<StageFixture> {
  const id = await createSpace(t, options);
  const mint = (identity: string, role: Role) => t.token(id, identity, role);
  const tokens: StageFixture['tokens'] = {
    host: mint('h', 'host'),
    cohost: mint('c', 'cohost'),
    cohost2: mint('c2', 'cohost'),
    speaker: mint('s', 'speaker'),
    speaker2: mint('s2', 'speaker'),
    listener: mint('l', 'listener'),
    listener2: mint('l2', 'listener'),
    operator: t.operator,
  };
  const seats = [tokens.cohost, tokens.speaker, tokens.speaker2, ...(options.secondCohost ? [tokens.cohost2] : [])];
  for (const token of seats) {
    const seated = await t.api.post(`/api/spaces/${id}/stage`, { token });
    assert.equal(seated.status, 200, JSON.stringify(seated.body));
  }
  if (options.live) {
    const asked = await t.api.post(`/api/spaces/${id}/requests`, { token: tokens.listener2 });
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
  }
  return { id, tokens };
}

/** The stage as the public state document shows it: identity → {role, muted}. */
export async function stageOf(t: TestServer, id: string): Promise<Record<string, { role: string; muted: boolean }>> {
  const doc = await t.api.get(`/api/spaces/${id}/state`);
  assert.equal(doc.status, 200);
  return Object.fromEntries(
    (doc.body.stage as Array<{ identity: string; role: string; muted: boolean }>).map((m) => [
      m.identity,
      { role: m.role, muted: m.muted },
    ]),
  );
}

/** Everything a denied action must leave untouched: the space, its stage, its request queue, its log. */
export async function snapshot(t: TestServer, id: string): Promise<unknown> {
  const [space, stage, requests, actions] = await Promise.all([
    t.api.get(`/api/spaces/${id}`),
    stageOf(t, id),
    t.api.get(`/api/spaces/${id}/requests`, { token: t.operator }),
    t.api.get(`/api/spaces/${id}/actions`, { token: t.operator }),
  ]);
  const { peakListeners: _p, totalListeners: _t, ...spaceFields } = space.body;
  return { space: spaceFields, stage, requests: requests.body, actions: actions.body };
}
