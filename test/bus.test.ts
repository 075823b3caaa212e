/**
 * LocalBus: typed delivery, disposers, handler order, and what happens when a handler throws.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventName, RostrumEvents } from '../src/bus/events.js';
import { LocalBus, type LocalBusOptions } from '../src/bus/local-bus.js';
import type { Identity, SpaceId } from '../src/ids.js';

const SPACE = 'space-1' as SpaceId;

interface Reported {
  err: unknown;
  event: EventName;
}

function makeBus(options: Partial<LocalBusOptions> = {}): { bus: LocalBus; reported: Reported[] } {
  const reported: Reported[] = [];
  const bus = new LocalBus({ onHandlerError: (err, event) => reported.push({ err, event }), ...options });
  return { bus, reported };
}

describe('LocalBus', () => {
  test('a subscriber receives the payload published under its event name', () => {
    const { bus } = makeBus();
    const received: RostrumEvents['space.live'][] = [];
    bus.subscribe('space.live', (payload) => received.push(payload));
    const payload = { spaceId: SPACE, startedAt: 1234 };

    bus.publish('space.live', payload);

    assert.deepEqual(received, [payload]);
    assert.equal(received[0], payload);
  });

  test('a subscriber receives only its own event, not others', () => {
    const { bus } = makeBus();
    const live: unknown[] = [];
    bus.subscribe('space.live', (payload) => live.push(payload));

    bus.publish('space.ended', { spaceId: SPACE, endedAt: 99, recording: true });
    bus.publish('participant.muted', { spaceId: SPACE, identity: 'a' as Identity, by: 'b' as Identity });

    assert.deepEqual(live, []);
  });

  test('publishing an event with no subscribers does nothing', () => {
    const { bus, reported } = makeBus({ rethrow: true });

    bus.publish('space.live', { spaceId: SPACE, startedAt: 1 });

    assert.deepEqual(reported, []);
  });

  test('every publish is delivered, in publish order', () => {
    const { bus } = makeBus();
    const times: number[] = [];
    bus.subscribe('space.live', ({ startedAt }) => times.push(startedAt));

    bus.publish('space.live', { spaceId: SPACE, startedAt: 1 });
    bus.publish('space.live', { spaceId: SPACE, startedAt: 2 });
    bus.publish('space.live', { spaceId: SPACE, startedAt: 3 });

    assert.deepEqual(times, [1, 2, 3]);
  });

  test('the disposer stops delivery to that handler only', () => {
    const { bus } = makeBus();
    const calls: string[] = [];
    const dispose = bus.subscribe('space.live', () => calls.push('a'));
    bus.subscribe('space.live', () => calls.push('b'));

    dispose();
    bus.publish('space.live', { spaceId: SPACE, startedAt: 1 });

    assert.deepEqual(calls, ['b']);
  });

  test('calling a disposer twice is harmless', () => {
    const { bus } = makeBus();
    const calls: string[] = [];
    const dispose = bus.subscribe('space.live', () => calls.push('a'));
    bus.subscribe('space.live', () => calls.push('b'));

    dispose();
    dispose();
    bus.publish('space.live', { spaceId: SPACE, startedAt: 1 });

    assert.deepEqual(calls, ['b']);
  });

  test('handlers run in the order they subscribed', () => {
    const { bus } = makeBus();
    const order: number[] = [];
    for (let i = 0; i < 5; i++) bus.subscribe('stage.changed', () => order.push(i));

    bus.publish('stage.changed', { spaceId: SPACE, stage: [] });

    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  });

  test('handlers run synchronously, before publish returns', () => {
    const { bus } = makeBus();
    let ran = false;
    bus.subscribe('space.live', () => {
      ran = true;
    });

    bus.publish('space.live', { spaceId: SPACE, startedAt: 1 });

    assert.equal(ran, true);
  });

  test('a throwing handler is reported with the event name and the other handlers still run when rethrow is false', () => {
    const { bus, reported } = makeBus({ rethrow: false });
    const boom = new Error('boom');
    const calls: string[] = [];
    bus.subscribe('request.created', () => calls.push('before'));
    bus.subscribe('request.created', () => {
      throw boom;
    });
    bus.subscribe('request.created', () => calls.push('after'));

    bus.publish('request.created', { spaceId: SPACE, identity: 'x' as Identity, name: 'X' });

    assert.deepEqual(calls, ['before', 'after']);
    assert.deepEqual(reported, [{ err: boom, event: 'request.created' }]);
  });

  test('rethrow defaults to false', () => {
    const { bus, reported } = makeBus();
    bus.subscribe('space.live', () => {
      throw new Error('boom');
    });

    bus.publish('space.live', { spaceId: SPACE, startedAt: 1 });

    assert.equal(reported.length, 1);
  });

  test("with rethrow true, publish throws the handler's error after reporting it", () => {
    const events: string[] = [];
    const { bus } = makeBus({
      rethrow: true,
      onHandlerError: (err, event) => events.push(`reported ${(err as Error).message} on ${event}`),
    });
    const boom = new Error('boom');
    bus.subscribe('space.ended', () => {
      throw boom;
    });

    assert.throws(
      () => bus.publish('space.ended', { spaceId: SPACE, endedAt: 1, recording: false }),
      (err) => err === boom,
    );
    assert.deepEqual(events, ['reported boom on space.ended']);
  });

  test('close() removes every handler of every event', async () => {
    const { bus } = makeBus();
    const calls: string[] = [];
    bus.subscribe('space.live', () => calls.push('live'));
    bus.subscribe('space.ended', () => calls.push('ended'));

    await bus.close();
    bus.publish('space.live', { spaceId: SPACE, startedAt: 1 });
    bus.publish('space.ended', { spaceId: SPACE, endedAt: 2, recording: true });

    assert.deepEqual(calls, []);
  });
});
