/**
 * The WebhookStore contract (the outbox and its deliveries), run against every implementation (SQLite,
 * PostgreSQL) by their test files with the same factory as the SpaceStore contract: events are
 * written with their change or not at all, numbered per space, fanned out to the endpoints that want
 * them, kept once when produced again; deliveries are leased to one node at a time, and their
 * attempts and outcomes recorded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SpaceId } from '../../src/ids.js';
import { newEventId, type OutboxEvent, type WebhookEventType } from '../../src/webhooks/events.js';
import { freshStore, makeHost, makeSpace, type OpenedStore } from './space-store-contract.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const sid = (value: string) => value as SpaceId;

function event(spaceId: string, type: WebhookEventType, overrides: Partial<OutboxEvent> = {}): OutboxEvent {
  return { id: newEventId(), type, spaceId: sid(spaceId), occurredAt: T0, data: { n: 1 }, ...overrides };
}

function endpoint(id: string, events: string[]) {
  return { id, url: `http://127.0.0.1:9/${id}`, events, description: '', createdAt: T0, secret: `whsec_${id}` };
}

export function runWebhookStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  const withStore = freshStore(open);

  describe(`WebhookStore contract: ${name}`, () => {
    test('an event is fanned out to the endpoints that want its type, numbered in its space, with its change or not at all', () =>
      withStore(async (store) => {
        const w = store.webhooks;
        await w.addEndpoint(endpoint('whk_all0000001', ['*']));
        await w.addEndpoint(endpoint('whk_live000001', ['space.live', 'space.ended']));
        await w.addEndpoint(endpoint('whk_stage00001', ['stage.joined']));
        const space = makeSpace('s1');
        await store.createSpace(space, makeHost(space), [event('s1', 'space.scheduled')]);
        await store.commit(sid('s1'), [
          { op: 'space.update', patch: { state: 'live', startedAt: T0 } },
          { op: 'event.append', event: event('s1', 'space.live') },
        ]);
        const other = makeSpace('s2');
        await store.createSpace(other, makeHost(other), [event('s2', 'space.scheduled')]);
        // A commit refused (an unknown space) writes no event; a space created twice, no second one.
        await assert.rejects(store.commit(sid('nope'), [{ op: 'event.append', event: event('nope', 'space.live') }]));
        await assert.rejects(store.createSpace(space, makeHost(space), [event('s1', 'space.scheduled')]));

        const all = await w.listDeliveries({ limit: 100 });
        const of = (endpointId: string) =>
          all.filter((d) => d.endpointId === endpointId).map((d) => `${d.spaceId}:${d.type}#${d.sequence}`);
        assert.deepEqual(of('whk_all0000001').sort(), ['s1:space.live#2', 's1:space.scheduled#1', 's2:space.scheduled#1']);
        assert.deepEqual(of('whk_live000001'), ['s1:space.live#2']);
        assert.deepEqual(of('whk_stage00001'), []);
        assert.ok(all.every((d) => d.state === 'pending' && d.attempts === 0 && d.nextAttemptAt === T0));
      }));

    test('an event produced again under its id is kept once, its number unchanged', () =>
      withStore(async (store) => {
        await store.webhooks.addEndpoint(endpoint('whk_all0000001', ['*']));
        const space = makeSpace('s1');
        await store.createSpace(space, makeHost(space));
        const ready = event('s1', 'recording.ready', { id: 'evt_recording_s1' });
        await store.commit(sid('s1'), [{ op: 'event.append', event: ready }]);
        await store.commit(sid('s1'), [{ op: 'event.append', event: { ...ready, data: { changed: true } } }]);
        await store.commit(sid('s1'), [{ op: 'event.append', event: event('s1', 'space.ended') }]);
        const deliveries = await store.webhooks.listDeliveries({ limit: 10 });
        assert.deepEqual(deliveries.map((d) => `${d.type}#${d.sequence}`).sort(), ['recording.ready#1', 'space.ended#2']);
      }));

    test('a due delivery is leased to one node until its lease runs out; its attempts and outcome are recorded', () =>
      withStore(async (store, opened) => {
        const w = store.webhooks;
        await w.addEndpoint(endpoint('whk_all0000001', ['*']));
        const space = makeSpace('s1');
        await store.createSpace(space, makeHost(space), [event('s1', 'space.scheduled', { data: { title: 'x' } })]);
        const other = opened.another ? (await opened.another()).webhooks : w;
        assert.deepEqual(await w.takeDue('a', T0 - 1, T0 + 10_000, 10), [], 'not due yet');
        const [taken, ...more] = await w.takeDue('a', T0, T0 + 10_000, 10);
        assert.ok(taken && more.length === 0);
        assert.equal(taken.url, 'http://127.0.0.1:9/whk_all0000001');
        assert.equal(taken.secret, 'whsec_whk_all0000001');
        assert.deepEqual(taken.data, { title: 'x' });
        assert.equal(taken.sequence, 1);
        assert.deepEqual(await other.takeDue('b', T0 + 5000, T0 + 20_000, 10), [], 'leased to a: not b’s');
        const attempt = { at: T0 + 100, status: 500, error: 'HTTP 500', durationMs: 12, node: 'a' };
        assert.equal(
          await w.recordAttempt(taken.id, { ...attempt, node: 'b' }, { state: 'delivered' }),
          false,
          'only the lease holder records',
        );
        assert.equal(await w.recordAttempt(taken.id, attempt, { state: 'pending', retryAt: T0 + 1000 }), true);
        assert.deepEqual(await other.takeDue('b', T0 + 999, T0 + 20_000, 10), [], 'not due before its retry');
        const [again] = await other.takeDue('b', T0 + 1000, T0 + 20_000, 10);
        assert.equal(again?.attempts, 1);
        // b's lease runs out without an answer (b died): a takes it again, and delivers it.
        const [third] = await w.takeDue('a', T0 + 20_001, T0 + 30_000, 10);
        assert.equal(third?.id, taken.id);
        assert.equal(
          await w.recordAttempt(taken.id, { ...attempt, at: T0 + 20_100, status: 204, error: null }, { state: 'delivered' }),
          true,
        );
        const detail = await w.getDelivery(taken.id);
        assert.equal(detail?.state, 'delivered');
        assert.equal(detail?.deliveredAt, T0 + 20_100);
        assert.deepEqual(
          detail?.attemptLog.map((a) => [a.status, a.node]),
          [
            [500, 'a'],
            [204, 'a'],
          ],
        );
        assert.deepEqual(await w.takeDue('a', T0 + 99_999, T0 + 120_000, 10), [], 'delivered: never sent again');
      }));

    test('a failed delivery is listed as failed and sent again on request; an endpoint removed takes its deliveries', () =>
      withStore(async (store) => {
        const w = store.webhooks;
        await w.addEndpoint(endpoint('whk_all0000001', ['*']));
        const space = makeSpace('s1');
        await store.createSpace(space, makeHost(space), [event('s1', 'space.scheduled')]);
        const [d] = await w.takeDue('a', T0, T0 + 10_000, 10);
        assert.ok(d);
        await w.recordAttempt(d.id, { at: T0 + 5, status: null, error: 'ECONNREFUSED', durationMs: 1, node: 'a' }, { state: 'failed' });
        const [failed] = await w.listDeliveries({ state: 'failed', limit: 10 });
        assert.equal(failed?.id, d.id);
        assert.equal(failed?.lastError, 'ECONNREFUSED');
        assert.equal(failed?.nextAttemptAt, null);
        assert.deepEqual(await w.takeDue('a', T0 + 60_000, T0 + 70_000, 10), [], 'parked');
        assert.equal(await w.retryDelivery(d.id, T0 + 60_000), true);
        assert.equal(await w.retryDelivery('evt_none.whk_none', T0), false);
        const [resent] = await w.takeDue('a', T0 + 60_000, T0 + 70_000, 10);
        assert.equal(resent?.retryFrom, T0 + 60_000, 'its retries count from the request');
        assert.deepEqual(
          (await w.listEndpoints()).map((e) => [e.id, e.events]),
          [['whk_all0000001', ['*']]],
        );
        assert.equal(await w.removeEndpoint('whk_all0000001'), true);
        assert.equal(await w.removeEndpoint('whk_all0000001'), false);
        assert.deepEqual(await w.listDeliveries({ limit: 10 }), []);
        assert.equal(await w.getDelivery(d.id), undefined);
      }));

    test('finished deliveries older than the cut-off are deleted with their attempts, a batch at a time; pending ones and events stay', () =>
      withStore(async (store) => {
        const w = store.webhooks;
        await w.addEndpoint(endpoint('whk_all0000001', ['*']));
        const space = makeSpace('s1');
        await store.createSpace(space, makeHost(space));
        // Five events a minute apart: the first three delivered, the fourth parked as failed, the last still pending.
        for (let i = 0; i < 5; i++) {
          await store.commit(sid('s1'), [
            { op: 'event.append', event: event('s1', i % 2 ? 'stage.left' : 'stage.joined', { occurredAt: T0 + i * 60_000 }) },
          ]);
        }
        const due = await w.takeDue('a', T0 + 10 * 60_000, T0 + 11 * 60_000, 10);
        assert.equal(due.length, 5);
        const byTime = [...due].sort((a, b) => a.occurredAt - b.occurredAt);
        const attempt = (at: number) => ({ at, status: 204, error: null, durationMs: 3, node: 'a' });
        for (const d of byTime.slice(0, 3)) await w.recordAttempt(d.id, attempt(d.occurredAt + 1), { state: 'delivered' });
        await w.recordAttempt(byTime[3]!.id, { ...attempt(T0 + 3 * 60_000 + 1), status: 500 }, { state: 'failed' });
        await w.recordAttempt(
          byTime[4]!.id,
          { ...attempt(T0 + 4 * 60_000 + 1), status: 500 },
          { state: 'pending', retryAt: T0 + 20 * 60_000 },
        );

        assert.equal(await w.pruneDeliveries(T0 + 2 * 60_000, 1), 1, 'one a batch');
        assert.equal(await w.getDelivery(byTime[0]!.id), undefined, 'the oldest first');
        assert.equal(await w.pruneDeliveries(T0 + 2 * 60_000, 10), 1, 'then the next made before the cut-off');
        assert.equal(await w.pruneDeliveries(T0 + 2 * 60_000, 10), 0);
        assert.equal(await w.pruneDeliveries(T0 + 60 * 60_000, 10), 2, 'the failed one goes too, the pending one stays');
        const left = await w.listDeliveries({ limit: 10 });
        assert.deepEqual(
          left.map((d) => [d.id, d.state]),
          [[byTime[4]!.id, 'pending']],
        );
        assert.equal((await w.getDelivery(byTime[4]!.id))?.attemptLog.length, 1, 'its attempts are kept');
        assert.equal(
          (await w.spaceEvents(sid('s1'), ['stage.joined', 'stage.left'])).length,
          5,
          'every event is kept (analytics reads them)',
        );
      }));

    test('a space’s events of some types, in their sequence, whether or not anyone subscribed', () =>
      withStore(async (store) => {
        const space = makeSpace('s1');
        await store.createSpace(space, makeHost(space), [event('s1', 'space.scheduled')]);
        await store.commit(sid('s1'), [
          { op: 'event.append', event: event('s1', 'stage.joined', { occurredAt: T0 + 1, data: { identity: 'a' } }) },
          { op: 'event.append', event: event('s1', 'stage.left', { occurredAt: T0 + 2, data: { identity: 'a' } }) },
        ]);
        const got = await store.webhooks.spaceEvents(sid('s1'), ['stage.joined', 'stage.left']);
        assert.deepEqual(
          got.map((e) => [e.type, e.occurredAt, e.data.identity]),
          [
            ['stage.joined', T0 + 1, 'a'],
            ['stage.left', T0 + 2, 'a'],
          ],
        );
        assert.deepEqual(await store.webhooks.spaceEvents(sid('s2'), ['stage.joined']), []);
      }));

    test('deliveries are listed newest first, by state, endpoint and space', () =>
      withStore(async (store) => {
        const w = store.webhooks;
        await w.addEndpoint(endpoint('whk_all0000001', ['*']));
        await w.addEndpoint(endpoint('whk_end0000001', ['space.ended']));
        for (const [i, id] of ['s1', 's2'].entries()) {
          const space = makeSpace(id);
          await store.createSpace(space, makeHost(space), [event(id, 'space.scheduled', { occurredAt: T0 + i })]);
          await store.commit(sid(id), [{ op: 'event.append', event: event(id, 'space.ended', { occurredAt: T0 + 10 + i }) }]);
        }
        const listed = await w.listDeliveries({ limit: 10 });
        assert.deepEqual(
          listed.map((d) => d.createdAt),
          [...listed.map((d) => d.createdAt)].sort((a, b) => b - a),
        );
        assert.equal((await w.listDeliveries({ endpointId: 'whk_end0000001', limit: 10 })).length, 2);
        assert.equal((await w.listDeliveries({ spaceId: sid('s2'), limit: 10 })).length, 3);
        assert.equal((await w.listDeliveries({ state: 'delivered', limit: 10 })).length, 0);
        assert.equal((await w.listDeliveries({ limit: 2 })).length, 2);
      }));
  });
}
