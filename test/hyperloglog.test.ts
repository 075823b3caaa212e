/**
 * HyperLogLog accuracy and merging, and ListenerCounter's sliding window, driven by explicit `now`
 * values (no real timers). The "random" ids are derived from SHA-256 of a counter, so they look
 * random to the hash but every run sees the same ones: an accuracy test must not be flaky.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { EXACT_LIMIT, HyperLogLog, hashForHll } from '../src/audience/hyperloglog.js';
import { heartbeatInterval, ListenerCounter } from '../src/audience/listener-counter.js';

function sketchOf(ids: Iterable<string>, into = new HyperLogLog()): HyperLogLog {
  for (const id of ids) into.add(hashForHll(id));
  return into;
}

function* anonIds(from: number, to: number): Generator<string> {
  for (let i = from; i < to; i++) yield `anon-${i}`;
}

/** Ids shaped like newListenerIdentity()'s (anon- + 16 base64url characters), deterministic. */
function* randomLookingIds(count: number, seed: string): Generator<string> {
  for (let i = 0; i < count; i++) {
    yield `anon-${createHash('sha256').update(`${seed}:${i}`).digest('base64url').slice(0, 16)}`;
  }
}

function assertWithin(estimate: number, actual: number, fraction: number): void {
  const error = Math.abs(estimate - actual) / actual;
  assert.ok(error <= fraction, `estimate ${estimate} is ${(error * 100).toFixed(2)} % off ${actual} (allowed ${fraction * 100} %)`);
}

describe('HyperLogLog', () => {
  test('an empty sketch estimates 0', () => {
    const hll = new HyperLogLog();

    assert.equal(hll.estimate(), 0);
  });

  test('a single item estimates 1', () => {
    const hll = sketchOf(['anon-only']);

    assert.equal(hll.estimate(), 1);
  });

  test('1,000 distinct ids are estimated within 1 %', () => {
    const sequential = sketchOf(anonIds(0, 1_000));
    const random = sketchOf(randomLookingIds(1_000, 'small'));

    assertWithin(sequential.estimate(), 1_000, 0.01);
    assertWithin(random.estimate(), 1_000, 0.01);
  });

  test('100,000 distinct ids are estimated within 2 %, sequential or random-looking', () => {
    const sequential = sketchOf(anonIds(0, 100_000));
    const random = sketchOf(randomLookingIds(100_000, 'large'));

    assertWithin(sequential.estimate(), 100_000, 0.02);
    assertWithin(random.estimate(), 100_000, 0.02);
  });

  test('adding the same ids again does not change the estimate', () => {
    const hll = sketchOf(anonIds(0, 20_000));
    const once = hll.estimate();

    sketchOf(anonIds(0, 20_000), hll);
    sketchOf(anonIds(5_000, 10_000), hll);

    assert.equal(hll.estimate(), once);
  });

  test('estimating two sketches together equals the estimate of one sketch fed both sets', () => {
    const a = sketchOf(anonIds(0, 30_000));
    const b = sketchOf(anonIds(20_000, 60_000));
    const both = sketchOf(anonIds(20_000, 60_000), sketchOf(anonIds(0, 30_000)));

    const merged = a.estimate(b);

    assert.equal(merged, both.estimate());
    assert.equal(b.estimate(a), merged);
    assertWithin(merged, 60_000, 0.02);
  });

  test('merging leaves the merged sketches unchanged', () => {
    const a = sketchOf(anonIds(0, 1_000));
    const b = sketchOf(anonIds(1_000, 3_000));
    const aAlone = a.estimate();
    const bAlone = b.estimate();

    a.estimate(b);

    assert.equal(a.estimate(), aAlone);
    assert.equal(b.estimate(), bAlone);
  });

  test('clear empties the sketch', () => {
    const hll = sketchOf(anonIds(0, 5_000));

    hll.clear();

    assert.equal(hll.estimate(), 0);
  });

  test('a small crowd is counted exactly, even when two of it share a register', () => {
    // The first ids (in a fixed order) among which two land in the same register: registers alone
    // would read one fewer.
    const ids: string[] = [];
    const registers = new Set<number>();
    for (const id of randomLookingIds(EXACT_LIMIT, 'collide')) {
      ids.push(id);
      const { index } = hashForHll(id);
      if (registers.has(index)) break;
      registers.add(index);
    }
    assert.ok(registers.size < ids.length, 'two ids share a register');
    const half = Math.floor(ids.length / 2);

    assert.equal(sketchOf(ids).estimate(), ids.length);
    // Two halves that overlap by one: their union, exactly.
    assert.equal(sketchOf(ids.slice(0, half + 1)).estimate(sketchOf(ids.slice(half))), ids.length);
    assert.equal(sketchOf(ids.slice(0, 3)).estimate(sketchOf(ids.slice(2, 5)), sketchOf(ids.slice(4))), ids.length);
  });

  test('beyond the exact limit the sketch estimates, and a cleared sketch counts exactly again', () => {
    const big = sketchOf(anonIds(0, EXACT_LIMIT + 1_000));
    const small = sketchOf(anonIds(0, 10));

    // Registers alone, as for any large crowd (sequential ids here read 1.25 % low).
    assertWithin(big.estimate(), EXACT_LIMIT + 1_000, 0.02);
    assert.equal(small.estimate(big), big.estimate());
    big.clear();
    sketchOf(anonIds(0, 10), big);
    assert.equal(big.estimate(small), 10);
  });
});

describe('ListenerCounter', () => {
  const W = 30_000;
  const START = 1_700_000_000_000;

  test('a listener counts right after it is seen', () => {
    const counter = new ListenerCounter(W, START);

    counter.seen('anon-a', START + 5);

    assert.equal(counter.concurrent(START + 5), 1);
  });

  test('a listener still counts 23/24 of W - 1 after its last heartbeat, wherever that falls in the rotation', () => {
    for (const offset of [0, 1, W / 48, W / 24 - 1, W / 4, W / 2 - 1, W / 2, W / 2 + 1, W - 1, W, 3 * W + 7]) {
      const counter = new ListenerCounter(W, START);
      const last = START + offset;
      counter.seen('anon-a', last);

      assert.equal(counter.concurrent(last + (W * 23) / 24 - 1), 1, `heartbeat at +${offset}`);
    }
  });

  test('a listener heartbeating at the interval the server hands out is never dropped from the count, even 2 s late', () => {
    const window = 60;
    const interval = heartbeatInterval(window);
    assert.equal(interval, 55);
    const counter = new ListenerCounter(window * 1000, START);
    for (let beat = 0, at = START + 777; beat < 20; beat++, at += interval * 1000 + (beat % 3) * 1000) {
      counter.seen('anon-a', at);
      for (let t = at; t < at + interval * 1000 + 2400; t += 500) assert.equal(counter.concurrent(t), 1, `at +${t - START} ms`);
    }
  });

  test('a listener is gone W after its last heartbeat', () => {
    for (const offset of [0, 1, W / 4, W / 2 - 1, W / 2, W - 1, 3 * W + 7]) {
      const counter = new ListenerCounter(W, START);
      const last = START + offset;
      counter.seen('anon-a', last);
      assert.equal(counter.concurrent(last), 1);

      const after = counter.concurrent(last + W);

      assert.equal(after, 0, `heartbeat at +${offset}`);
    }
  });

  test('a listener is gone W after its last heartbeat even when the counter was read in between', () => {
    const counter = new ListenerCounter(W, START);
    counter.seen('anon-a', START + 100);

    for (let t = START + 100; t < START + 100 + W; t += 1_000) assert.equal(counter.concurrent(t), 1, `at +${t - START}`);
    const after = counter.concurrent(START + 100 + W);

    assert.equal(after, 0);
  });

  test('listeners heartbeating every W/3 keep counting across many rotations', () => {
    const counter = new ListenerCounter(W, START);
    const ids = ['anon-a', 'anon-b', 'anon-c'];
    let now = START;

    for (let beat = 0; beat < 60; beat++) {
      for (const id of ids) counter.seen(id, now);
      assert.equal(counter.concurrent(now), 3, `right after beat ${beat}`);
      assert.equal(counter.concurrent(now + W / 3 - 1), 3, `just before beat ${beat + 1}`);
      now += W / 3;
    }
  });

  test('a listener that stops heartbeating drops out while the others keep counting', () => {
    const counter = new ListenerCounter(W, START);
    let now = START;
    for (let beat = 0; beat < 3; beat++, now += W / 3) {
      counter.seen('anon-stays', now);
      counter.seen('anon-leaves', now);
    }
    const leftAt = now - W / 3;

    for (; now < leftAt + W; now += W / 3) counter.seen('anon-stays', now);
    const after = counter.concurrent(leftAt + W + 1_000);

    assert.equal(after, 1);
  });

  test('peak keeps the highest concurrent count after listeners leave', () => {
    const counter = new ListenerCounter(W, START);
    for (let i = 0; i < 5; i++) counter.seen(`anon-${i}`, START);
    assert.equal(counter.concurrent(START), 5);
    counter.seen('anon-0', START + W);

    const later = counter.concurrent(START + W + 1_000);

    assert.equal(later, 1);
    assert.equal(counter.peak, 5);
  });

  test('peak rises when more listeners are counted at once', () => {
    const counter = new ListenerCounter(W, START);
    counter.seen('anon-0', START);
    counter.concurrent(START);
    assert.equal(counter.peak, 1);

    for (let i = 1; i < 4; i++) counter.seen(`anon-${i}`, START + 1_000);
    counter.concurrent(START + 1_000);

    assert.equal(counter.peak, 4);
  });

  test('concurrent is recomputed at most once a second of `now`', () => {
    const counter = new ListenerCounter(W, START);
    counter.seen('anon-0', START);
    assert.equal(counter.concurrent(START), 1);

    counter.seen('anon-1', START + 10);
    const cached = counter.concurrent(START + 999);
    const fresh = counter.concurrent(START + 1_000);

    assert.equal(cached, 1);
    assert.equal(fresh, 2);
  });

  test('totalUnique counts every distinct listener ever seen, even after they left', () => {
    const counter = new ListenerCounter(W, START);
    for (let i = 0; i < 100; i++) counter.seen(`anon-early-${i}`, START);
    for (let i = 0; i < 100; i++) counter.seen(`anon-early-${i}`, START + W / 3);
    for (let i = 0; i < 50; i++) counter.seen(`anon-late-${i}`, START + 5 * W);

    const concurrent = counter.concurrent(START + 5 * W);
    const total = counter.totalUnique();

    assert.equal(concurrent, 50);
    // A crowd this small is counted exactly.
    assert.equal(total, 150);
  });

  test('totalUnique of many listeners over a long time is within 2 %', () => {
    const counter = new ListenerCounter(W, START);
    let now = START;
    for (let i = 0; i < 50_000; i++) {
      if (i % 1_000 === 0) now += W / 2;
      counter.seen(`anon-${i}`, now);
    }

    const total = counter.totalUnique();

    assertWithin(total, 50_000, 0.02);
  });
});
