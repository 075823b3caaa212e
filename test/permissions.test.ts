/**
 * Every role × action of DESIGN.md's permission table, over real HTTP. The expectations are written
 * out here by hand (not derived from src/control/permissions.ts), so a wrong rule fails. An allowed
 * action must take effect; a denied one must be refused with a coded 4xx and change nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type StageFixture, snapshot, stageFixture, stageOf } from './helpers/fixture.js';
import type { ApiResponse } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

type ActorName = 'host' | 'cohost' | 'speaker' | 'listener' | 'operator';
const ACTORS: ActorName[] = ['host', 'cohost', 'speaker', 'listener', 'operator'];
/** Which identity each acting token speaks for; the speaker actor is s2, so `s` is always "another". */
const IDENTITY: Record<ActorName, string> = { host: 'h', cohost: 'c', speaker: 's2', listener: 'l', operator: 'operator' };
const TOKEN_OF: Record<ActorName, keyof StageFixture['tokens']> = {
  host: 'host',
  cohost: 'cohost',
  speaker: 'speaker2',
  listener: 'listener',
  operator: 'operator',
};

interface Case {
  name: string;
  live: boolean;
  secondCohost?: boolean;
  /** Steps before the action (with the fixture's own tokens). */
  prepare?: (t: TestServer, fx: StageFixture, actor: ActorName) => Promise<void>;
  act: (t: TestServer, fx: StageFixture, token: string, actor: ActorName) => Promise<ApiResponse>;
  allowed: ActorName[];
  /** For allowed actions: what must be true afterwards. */
  effect?: (t: TestServer, fx: StageFixture, actor: ActorName) => Promise<void>;
  /** The exact code a denial must carry, where it is always the same. */
  deniedCode?: string;
}

const post = (path: string) => (t: TestServer, fx: StageFixture, token: string) => t.api.post(`/api/spaces/${fx.id}${path}`, { token });
const onTarget = (target: string, verb: string) => post(`/participants/${target}/${verb}`);
const self = (verb: string) => (t: TestServer, fx: StageFixture, token: string, actor: ActorName) =>
  t.api.post(`/api/spaces/${fx.id}/participants/${IDENTITY[actor]}/${verb}`, { token });
const expectStage =
  (identity: string, expected: { role: string; muted: boolean } | undefined) => async (t: TestServer, fx: StageFixture) => {
    const stage = await stageOf(t, fx.id);
    if (expected === undefined) assert.equal(stage[identity], undefined, `${identity} should be off stage`);
    else assert.deepEqual(stage[identity], expected);
  };
const expectState = (state: string) => async (t: TestServer, fx: StageFixture) => {
  assert.equal((await t.api.get(`/api/spaces/${fx.id}`)).body.state, state);
};
const unmuteSelf = (token: keyof StageFixture['tokens'], identity: string) => async (t: TestServer, fx: StageFixture) => {
  assert.equal((await t.api.post(`/api/spaces/${fx.id}/participants/${identity}/unmute`, { token: fx.tokens[token] })).status, 200);
};
const NOBODY: ActorName[] = [];
const HOSTS: ActorName[] = ['host', 'operator'];
const MODERATORS: ActorName[] = ['host', 'cohost', 'operator'];

const CASES: Case[] = [
  {
    name: 'start a scheduled space',
    live: false,
    act: post('/start'),
    allowed: HOSTS,
    effect: expectState('live'),
    deniedCode: 'permission_denied',
  },
  {
    name: 'end a live space',
    live: true,
    act: post('/end'),
    allowed: HOSTS,
    effect: expectState('ended'),
    deniedCode: 'permission_denied',
  },
  {
    name: 'change the title',
    live: true,
    act: (t, fx, token) => t.api.call('PATCH', `/api/spaces/${fx.id}`, { token, body: { title: 'Renamed' } }),
    allowed: HOSTS,
    effect: async (t, fx) => assert.equal((await t.api.get(`/api/spaces/${fx.id}`)).body.title, 'Renamed'),
    deniedCode: 'permission_denied',
  },
  {
    name: 'pin a link for listeners',
    live: true,
    act: (t, fx, token) =>
      t.api.call('PUT', `/api/spaces/${fx.id}/pinned-link`, { token, body: { url: 'https://example.com/read', title: 'Read this' } }),
    allowed: MODERATORS,
    effect: async (t, fx) =>
      assert.deepEqual((await t.api.get(`/api/spaces/${fx.id}/state`)).body.pinnedLink?.url, 'https://example.com/read'),
    deniedCode: 'permission_denied',
  },
  {
    name: 'see the analytics',
    live: true,
    act: (t, fx, token) => t.api.get(`/api/spaces/${fx.id}/analytics`, { token }),
    allowed: MODERATORS,
    deniedCode: 'permission_denied',
  },
  {
    name: 'see the named audience',
    live: true,
    act: (t, fx, token) => t.api.get(`/api/spaces/${fx.id}/audience`, { token }),
    allowed: MODERATORS,
    deniedCode: 'permission_denied',
  },
  {
    name: 'appoint a speaker co-host',
    live: true,
    act: onTarget('s', 'appoint-cohost'),
    allowed: HOSTS,
    effect: expectStage('s', { role: 'cohost', muted: true }),
    deniedCode: 'permission_denied',
  },
  {
    name: 'dismiss a co-host',
    live: true,
    secondCohost: true,
    act: onTarget('c2', 'dismiss-cohost'),
    allowed: HOSTS,
    effect: expectStage('c2', { role: 'speaker', muted: true }),
    deniedCode: 'permission_denied',
  },
  {
    name: 'see the request queue',
    live: true,
    act: (t, fx, token) => t.api.get(`/api/spaces/${fx.id}/requests`, { token }),
    allowed: MODERATORS,
    deniedCode: 'permission_denied',
  },
  {
    name: 'see the moderation log',
    live: true,
    act: (t, fx, token) => t.api.get(`/api/spaces/${fx.id}/actions`, { token }),
    allowed: MODERATORS,
    deniedCode: 'permission_denied',
  },
  {
    name: 'ask to speak',
    live: true,
    act: post('/requests'),
    allowed: ['listener'],
    effect: async (t, fx) => {
      const queue = await t.api.get(`/api/spaces/${fx.id}/requests`, { token: fx.tokens.host });
      assert.ok(queue.body.requests.some((r: { identity: string }) => r.identity === 'l'));
    },
    deniedCode: 'permission_denied',
  },
  {
    name: "approve a listener's request",
    live: true,
    act: onTarget('l2', 'approve'),
    allowed: MODERATORS,
    effect: expectStage('l2', { role: 'speaker', muted: true }),
    deniedCode: 'permission_denied',
  },
  {
    name: "decline a listener's request",
    live: true,
    act: onTarget('l2', 'decline'),
    allowed: MODERATORS,
    effect: async (t, fx) => {
      const queue = await t.api.get(`/api/spaces/${fx.id}/requests`, { token: fx.tokens.host });
      assert.deepEqual(queue.body.requests, []);
    },
    deniedCode: 'permission_denied',
  },
  {
    name: 'invite a listener to speak',
    live: true,
    act: onTarget('l2', 'invite'),
    allowed: MODERATORS,
    effect: async (t, fx) => {
      const accepted = await t.api.post(`/api/spaces/${fx.id}/invite/accept`, { token: fx.tokens.listener2 });
      assert.equal(accepted.status, 200);
      await expectStage('l2', { role: 'speaker', muted: true })(t, fx);
    },
    deniedCode: 'permission_denied',
  },
  {
    name: 'accept an invitation',
    live: true,
    prepare: async (t, fx) => {
      assert.equal((await t.api.post(`/api/spaces/${fx.id}/participants/l/invite`, { token: fx.tokens.host })).status, 200);
    },
    act: post('/invite/accept'),
    allowed: ['listener'],
    effect: expectStage('l', { role: 'speaker', muted: true }),
    deniedCode: 'permission_denied',
  },
  {
    name: 'mute another speaker',
    live: true,
    prepare: unmuteSelf('speaker', 's'),
    act: onTarget('s', 'mute'),
    allowed: MODERATORS,
    effect: expectStage('s', { role: 'speaker', muted: true }),
    deniedCode: 'permission_denied',
  },
  {
    name: 'mute the host',
    live: true,
    act: onTarget('h', 'mute'),
    allowed: MODERATORS,
    effect: expectStage('h', { role: 'host', muted: true }),
  },
  { name: 'mute oneself', live: true, prepare: unmuteSelf('host', 'h'), act: self('mute'), allowed: ['host', 'cohost', 'speaker'] },
  {
    name: 'unmute someone else',
    live: true,
    act: onTarget('s', 'unmute'),
    allowed: NOBODY,
    deniedCode: 'unmute_others_forbidden',
  },
  {
    name: 'unmute oneself',
    live: true,
    prepare: async (t, fx, actor) => {
      await t.api.post(`/api/spaces/${fx.id}/participants/${IDENTITY[actor]}/mute`, { token: fx.tokens.host });
    },
    act: self('unmute'),
    allowed: ['host', 'cohost', 'speaker'],
    effect: async (t, fx, actor) => assert.equal((await stageOf(t, fx.id))[IDENTITY[actor]]?.muted, false),
  },
  {
    name: 'move a speaker to the audience',
    live: true,
    act: onTarget('s', 'move-to-audience'),
    allowed: MODERATORS,
    effect: expectStage('s', undefined),
    deniedCode: 'permission_denied',
  },
  {
    name: 'move a co-host to the audience',
    live: true,
    secondCohost: true,
    act: onTarget('c2', 'move-to-audience'),
    allowed: HOSTS,
    effect: expectStage('c2', undefined),
    deniedCode: 'permission_denied',
  },
  {
    name: 'move the host to the audience',
    live: true,
    act: onTarget('h', 'move-to-audience'),
    allowed: NOBODY,
    deniedCode: 'permission_denied',
  },
  {
    name: 'remove a speaker',
    live: true,
    act: onTarget('s', 'remove'),
    allowed: MODERATORS,
    effect: async (t, fx) => {
      await expectStage('s', undefined)(t, fx);
      const back = await t.api.post(`/api/spaces/${fx.id}/stage`, { token: fx.tokens.speaker });
      assert.equal(back.body.error.code, 'identity_removed');
    },
    deniedCode: 'permission_denied',
  },
  {
    name: 'remove a listener',
    live: true,
    act: onTarget('l2', 'remove'),
    allowed: MODERATORS,
    effect: async (t, fx) => {
      const back = await t.api.post(`/api/spaces/${fx.id}/heartbeat`, { token: fx.tokens.listener2 });
      assert.equal(back.body.error.code, 'identity_removed');
    },
    deniedCode: 'permission_denied',
  },
  {
    name: 'remove a co-host',
    live: true,
    secondCohost: true,
    act: onTarget('c2', 'remove'),
    allowed: HOSTS,
    effect: expectStage('c2', undefined),
    deniedCode: 'permission_denied',
  },
  { name: 'remove the host', live: true, act: onTarget('h', 'remove'), allowed: NOBODY, deniedCode: 'permission_denied' },
  {
    name: 'leave the stage',
    live: true,
    act: (t, fx, token) => t.api.call('DELETE', `/api/spaces/${fx.id}/stage`, { token }),
    allowed: ['cohost', 'speaker'],
    effect: async (t, fx, actor) => expectStage(IDENTITY[actor], undefined)(t, fx),
  },
  {
    name: 'react',
    live: true,
    act: (t, fx, token) => t.api.post(`/api/spaces/${fx.id}/reactions`, { token, body: { emoji: '🔥' } }),
    allowed: ACTORS,
    effect: async (t, fx) => assert.equal((await t.api.get(`/api/spaces/${fx.id}/state`)).body.reactions['🔥'], 1),
  },
  {
    name: 'register for a reminder',
    live: false,
    act: (t, fx, token) => t.api.call('PUT', `/api/spaces/${fx.id}/reminder`, { token }),
    allowed: ACTORS,
    effect: async (t, fx) => {
      const again = await t.api.call('PUT', `/api/spaces/${fx.id}/reminder`, { token: fx.tokens.listener2 });
      assert.equal(again.body.reminders, 2);
    },
  },
];

describe('permission table: every role × action over HTTP', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  for (const c of CASES) {
    for (const actor of ACTORS) {
      const allowed = c.allowed.includes(actor);
      test(`a ${actor} ${allowed ? 'may' : 'may not'} ${c.name}`, async () => {
        const fx = await stageFixture(t, { live: c.live, secondCohost: c.secondCohost ?? false });
        await c.prepare?.(t, fx, actor);
        const before = allowed ? undefined : await snapshot(t, fx.id);

        const response = await c.act(t, fx, fx.tokens[TOKEN_OF[actor]], actor);

        if (allowed) {
          assert.ok(
            response.status >= 200 && response.status < 300,
            `expected success, got ${response.status} ${JSON.stringify(response.body)}`,
          );
          await c.effect?.(t, fx, actor);
        } else {
          assert.ok(
            [403, 404, 409].includes(response.status),
            `expected a refusal, got ${response.status} ${JSON.stringify(response.body)}`,
          );
          assert.equal(typeof response.body.error.code, 'string');
          if (c.deniedCode) assert.equal(response.body.error.code, c.deniedCode);
          assert.deepEqual(await snapshot(t, fx.id), before, 'a refused action changed the space');
        }
      });
    }
  }
});
