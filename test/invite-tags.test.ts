/**
 * Invitations without identities (issue 25). The state document is public and cached by every edge;
 * it listed the identities invited to the stage — for an operator's named users, whom the host had
 * invited. Now it lists tags, and each listener learns only its own: in the join answer, or from
 * GET /api/spaces/:id/invite-tag with its token. The document never contains the identity.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createToken } from '../src/control/tokens.js';
import { createSpace } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

test('the state document lists invitations as tags; each listener learns its own tag, and nobody sees whom the host invited', async () => {
  const id = await createSpace(t, { live: true });
  const other = await createSpace(t, { live: true });
  const host = t.token(id, 'h', 'host');

  // An anonymous listener (joined) and a named one (the operator's backend minted its token).
  const joined = await t.api.post(`/api/spaces/${id}/join`);
  assert.equal(joined.status, 200);
  const { identity, inviteTag, token } = joined.body as { identity: string; inviteTag: string; token: string };
  assert.match(inviteTag, /^[A-Za-z0-9_-]{22}$/);
  const named = 'alice@example.com';
  const alice = createToken({ ...t.server.credentials, space: id, identity: named, role: 'listener' });

  assert.deepEqual((await t.api.get(`/api/spaces/${id}/state`)).body.invited, []);
  for (const who of [identity, named]) {
    const invited = await t.api.post(`/api/spaces/${id}/participants/${encodeURIComponent(who)}/invite`, { token: host });
    assert.ok(invited.status < 300, JSON.stringify(invited.body));
  }
  const state = await t.api.get(`/api/spaces/${id}/state`);
  const text = JSON.stringify(state.body);
  assert.ok(!text.includes(named) && !text.includes(identity), `no invited identity in the public document: ${text}`);
  const aliceTag = (await t.api.get(`/api/spaces/${id}/invite-tag`, { token: alice })).body.inviteTag as string;
  assert.deepEqual([...state.body.invited].sort(), [inviteTag, aliceTag].sort(), 'each invitation is listed by its tag');
  assert.equal(
    (await t.api.get(`/api/spaces/${id}/invite-tag`, { token })).body.inviteTag,
    inviteTag,
    'the join answer and the endpoint agree',
  );

  // Tags tell nothing across spaces or identities, and only the token's holder learns its own.
  const elsewhere = createToken({ ...t.server.credentials, space: other, identity: named, role: 'listener' });
  const tagElsewhere = (await t.api.get(`/api/spaces/${other}/invite-tag`, { token: elsewhere })).body.inviteTag;
  assert.notEqual(tagElsewhere, aliceTag, 'the same identity has another tag in another space');
  assert.notEqual(aliceTag, inviteTag);
  const wrongSpace = await t.api.get(`/api/spaces/${id}/invite-tag`, { token: elsewhere });
  assert.equal(wrongSpace.status, 403);
  assert.equal(wrongSpace.body.error.code, 'token_wrong_space');
  assert.equal((await t.api.get(`/api/spaces/${id}/invite-tag`)).status, 401);

  // Answering the invitation takes the tag off the list.
  assert.equal((await t.api.post(`/api/spaces/${id}/invite/decline`, { token: alice })).status < 300, true);
  assert.deepEqual((await t.api.get(`/api/spaces/${id}/state`)).body.invited, [inviteTag]);
});
