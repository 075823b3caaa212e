/**
 * The SpaceStore contract: one suite written only against the SpaceStore interface, so every
 * implementation (SQLite now, PostgreSQL later) runs the same tests. An implementation's test file
 * calls runSpaceStoreContract with a factory that opens a fresh, empty store; when the factory also
 * gives `reopen`, the suite checks that committed data survives closing the store.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ActionRecord, Demotion, Invite, Removal, Space, SpaceSnapshot, StageMember, StageRequest } from '../../src/control/model.js';
import { RostrumError } from '../../src/errors.js';
import type { Identity, SpaceId } from '../../src/ids.js';
import type { SpaceStore } from '../../src/store/space-store.js';

export interface OpenedStore {
  /** A fresh, empty store. */
  store: SpaceStore;
  /** Opens the same storage again (after `store` was closed); omitted when the store is not durable. */
  reopen?: () => Promise<SpaceStore>;
  /** Opens a second handle on the same storage while the first is open: another node. */
  another?: () => Promise<SpaceStore>;
  /** Closes whatever is still open and removes the storage. */
  cleanup: () => Promise<void>;
}

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

const sid = (value: string) => value as SpaceId;
const who = (value: string) => value as Identity;

/** A space to create in a store (scheduled unless overridden); other store tests use it too. */
export function makeSpace(id: string, overrides: Partial<Space> = {}): Space {
  return {
    id: sid(id),
    title: `Space ${id}`,
    hostIdentity: who('host-1'),
    hostName: 'Hana Host',
    state: 'scheduled',
    scheduledStart: null,
    startedAt: null,
    endedAt: null,
    recording: true,
    autoStart: false,
    createdAt: T0,
    updatedAt: T0,
    peakListeners: 0,
    totalListeners: 0,
    reactions: {},
    pinnedLink: null,
    replayTrim: null,
    ...overrides,
  } as Space;
}

export function makeHost(space: Space, overrides: Partial<StageMember> = {}): StageMember {
  return { identity: space.hostIdentity, name: space.hostName, role: 'host', muted: false, joinedAt: space.createdAt, ...overrides };
}

function member(identity: string, overrides: Partial<StageMember> = {}): StageMember {
  return { identity: who(identity), name: `Name of ${identity}`, role: 'speaker', muted: true, joinedAt: T0 + 1_000, ...overrides };
}

/** The interface promises no order for the stage and the moderation sets, so compare them sorted. */
function sorted<T extends { identity: Identity }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
}

function normalized(snapshot: SpaceSnapshot | undefined): SpaceSnapshot | undefined {
  if (!snapshot) return undefined;
  return {
    space: snapshot.space,
    stage: sorted(snapshot.stage),
    requests: sorted(snapshot.requests),
    invites: sorted(snapshot.invites),
    removals: sorted(snapshot.removals),
    demotions: sorted(snapshot.demotions),
  };
}

async function load(store: SpaceStore, id: string): Promise<SpaceSnapshot> {
  const snapshot = normalized(await store.loadSpace(sid(id)));
  assert.ok(snapshot, `space ${id} should exist`);
  return snapshot;
}

/** Creates a scheduled space with its host on stage and returns both. */
async function seed(store: SpaceStore, id: string, overrides: Partial<Space> = {}): Promise<{ space: Space; host: StageMember }> {
  const space = makeSpace(id, overrides);
  const host = makeHost(space);
  await store.createSpace(space, host);
  return { space, host };
}

const isStaleOwner = (err: unknown): boolean => {
  assert.ok(err instanceof RostrumError, `expected a RostrumError, got ${String(err)}`);
  assert.equal(err.code, 'stale_owner');
  return true;
};

const isSpaceNotFound = (err: unknown): boolean => {
  assert.ok(err instanceof RostrumError, `expected a RostrumError, got ${String(err)}`);
  assert.equal(err.code, 'space_not_found');
  return true;
};

/** Runs a test's `body` against a fresh store from `open`, and always cleans up after it (every contract suite's). */
export function freshStore(open: () => Promise<OpenedStore>) {
  return async (body: (store: SpaceStore, opened: OpenedStore) => Promise<void>): Promise<void> => {
    const opened = await open();
    try {
      await body(opened.store, opened);
    } finally {
      await opened.cleanup();
    }
  };
}

export function runSpaceStoreContract(name: string, open: () => Promise<OpenedStore>): void {
  const withStore = freshStore(open);

  describe(`SpaceStore contract: ${name}`, () => {
    describe('createSpace and loadSpace', () => {
      test('a created space loads back with every field, including nulls and false booleans, and its host on stage', () =>
        withStore(async (store) => {
          const space = makeSpace('plain', { recording: false, scheduledStart: null, startedAt: null, endedAt: null });
          const host = makeHost(space, { muted: false });

          await store.createSpace(space, host);
          const loaded = await store.loadSpace(space.id);

          assert.deepEqual(loaded, { space, stage: [host], requests: [], invites: [], removals: [], demotions: [] });
        }));

      test('a created space loads back with every optional time set, true booleans and non-zero counters', () =>
        withStore(async (store) => {
          const space = makeSpace('full', {
            title: 'Ünïcode — "quoted" title',
            hostIdentity: who('host@example.com'),
            hostName: 'Hélène',
            state: 'ended',
            scheduledStart: T0 + 60_000,
            startedAt: T0 + 61_000,
            endedAt: T0 + 3_600_000,
            recording: true,
            autoStart: true,
            createdAt: T0 - 5_000,
            updatedAt: T0 + 3_600_001,
            peakListeners: 12_345,
            totalListeners: 987_654,
            reactions: { '🔥': 3, '👏': 1_000_000 },
          });
          const host = makeHost(space, { muted: true, joinedAt: T0 + 61_000 });

          await store.createSpace(space, host);
          const loaded = await store.loadSpace(space.id);

          assert.deepEqual(loaded, { space, stage: [host], requests: [], invites: [], removals: [], demotions: [] });
        }));

      test('creating a space whose id already exists is rejected and leaves the first space as it was', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 'dup', { title: 'First' });
          const before = await load(store, 'dup');

          const second = makeSpace('dup', { title: 'Second', hostIdentity: who('someone-else') });
          await assert.rejects(store.createSpace(second, makeHost(second)));

          assert.deepEqual(await load(store, 'dup'), before);
          assert.equal(before.space.title, space.title);
          assert.deepEqual(before.stage, [host]);
        }));

      test('loading an unknown id gives undefined', () =>
        withStore(async (store) => {
          await seed(store, 'known');

          const loaded = await store.loadSpace(sid('unknown'));

          assert.equal(loaded, undefined);
        }));
    });

    describe('listSpaces', () => {
      async function seedMany(store: SpaceStore): Promise<void> {
        await seed(store, 'a', { state: 'scheduled', hostIdentity: who('alice'), createdAt: T0 + 1 });
        await seed(store, 'b', { state: 'live', hostIdentity: who('bob'), createdAt: T0 + 2 });
        await seed(store, 'c', { state: 'ended', hostIdentity: who('alice'), createdAt: T0 + 3 });
        await seed(store, 'd', { state: 'live', hostIdentity: who('alice'), createdAt: T0 + 4 });
        await seed(store, 'e', { state: 'scheduled', hostIdentity: who('bob'), createdAt: T0 + 5 });
      }
      const ids = (spaces: Space[]) => spaces.map((s) => s.id as string);

      test('with no filter it returns every space, newest first, as whole Space records', () =>
        withStore(async (store) => {
          await seedMany(store);

          const spaces = await store.listSpaces({ limit: 100 });

          assert.deepEqual(ids(spaces), ['e', 'd', 'c', 'b', 'a']);
          assert.deepEqual(spaces[0], makeSpace('e', { state: 'scheduled', hostIdentity: who('bob'), createdAt: T0 + 5 }));
        }));

      test('it keeps only the spaces in the given states', () =>
        withStore(async (store) => {
          await seedMany(store);

          const live = await store.listSpaces({ states: ['live'], limit: 100 });
          const notEnded = await store.listSpaces({ states: ['scheduled', 'live'], limit: 100 });

          assert.deepEqual(ids(live), ['d', 'b']);
          assert.deepEqual(ids(notEnded), ['e', 'd', 'b', 'a']);
        }));

      test('an empty states list does not filter', () =>
        withStore(async (store) => {
          await seedMany(store);

          const spaces = await store.listSpaces({ states: [], limit: 100 });

          assert.deepEqual(ids(spaces), ['e', 'd', 'c', 'b', 'a']);
        }));

      test('it keeps only the spaces of the given host, and combines that with states', () =>
        withStore(async (store) => {
          await seedMany(store);

          const alices = await store.listSpaces({ hostIdentity: who('alice'), limit: 100 });
          const alicesLive = await store.listSpaces({ hostIdentity: who('alice'), states: ['live', 'ended'], limit: 100 });
          const nobodys = await store.listSpaces({ hostIdentity: who('nobody'), limit: 100 });

          assert.deepEqual(ids(alices), ['d', 'c', 'a']);
          assert.deepEqual(ids(alicesLive), ['d', 'c']);
          assert.deepEqual(nobodys, []);
        }));

      test('it returns at most `limit` spaces, the newest ones', () =>
        withStore(async (store) => {
          await seedMany(store);

          const two = await store.listSpaces({ limit: 2 });
          const oneLive = await store.listSpaces({ states: ['live'], limit: 1 });

          assert.deepEqual(ids(two), ['e', 'd']);
          assert.deepEqual(ids(oneLive), ['d']);
        }));

      test('it reflects updates committed after creation', () =>
        withStore(async (store) => {
          await seedMany(store);

          await store.commit(sid('a'), [{ op: 'space.update', patch: { state: 'live', startedAt: T0 + 10 } }]);
          const live = await store.listSpaces({ states: ['live'], limit: 100 });

          assert.deepEqual(ids(live), ['d', 'b', 'a']);
          assert.equal(live[2]?.startedAt, T0 + 10);
        }));
    });

    describe('commit', () => {
      test('space.update changes only the patched fields, including setting values, nulls and booleans', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's', { scheduledStart: T0 + 60_000, recording: true, peakListeners: 3 });

          const patch = {
            title: 'Renamed',
            state: 'live',
            scheduledStart: null,
            startedAt: T0 + 5,
            recording: false,
            autoStart: true,
            updatedAt: T0 + 5,
          } as const;
          await store.commit(space.id, [{ op: 'space.update', patch }]);
          const afterFirst = await load(store, 's');
          await store.commit(space.id, [{ op: 'space.update', patch: { peakListeners: 40, totalListeners: 41 } }]);
          const afterSecond = await load(store, 's');

          const expectedFirst: Space = { ...space, ...patch };
          assert.deepEqual(afterFirst.space, expectedFirst);
          assert.deepEqual(afterSecond.space, { ...expectedFirst, peakListeners: 40, totalListeners: 41 });
          await store.commit(space.id, [{ op: 'space.update', patch: { reactions: { '❤️': 2 } } }]);
          assert.deepEqual(await load(store, 's'), { ...afterSecond, space: { ...afterSecond.space, reactions: { '❤️': 2 } } });
        }));

      test('space.update with an empty patch changes nothing', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          const before = await load(store, 's');

          await store.commit(space.id, [{ op: 'space.update', patch: {} }]);

          assert.deepEqual(await load(store, 's'), before);
        }));

      test('space.update on one space leaves other spaces alone', () =>
        withStore(async (store) => {
          await seed(store, 'one');
          await seed(store, 'two');
          const twoBefore = await load(store, 'two');

          await store.commit(sid('one'), [{ op: 'space.update', patch: { title: 'Only me' } }]);

          assert.equal((await load(store, 'one')).space.title, 'Only me');
          assert.deepEqual(await load(store, 'two'), twoBefore);
        }));

      test('stage.put adds a member, and putting the same identity again replaces its name, role, mute and join time', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 's');
          const speaker = member('speaker-1', { role: 'speaker', muted: true, joinedAt: T0 + 10 });

          await store.commit(space.id, [{ op: 'stage.put', member: speaker }]);
          const afterInsert = await load(store, 's');
          const promoted = member('speaker-1', { name: 'Renamed', role: 'cohost', muted: false, joinedAt: T0 + 20 });
          await store.commit(space.id, [{ op: 'stage.put', member: promoted }]);
          const afterUpdate = await load(store, 's');

          assert.deepEqual(afterInsert.stage, sorted([host, speaker]));
          assert.deepEqual(afterUpdate.stage, sorted([host, promoted]));
        }));

      test('stage.delete removes that member only, and deleting an absent one is harmless', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 's');
          const a = member('a');
          const b = member('b', { role: 'cohost' });
          await store.commit(space.id, [
            { op: 'stage.put', member: a },
            { op: 'stage.put', member: b },
          ]);

          await store.commit(space.id, [
            { op: 'stage.delete', identity: a.identity },
            { op: 'stage.delete', identity: who('never-there') },
          ]);

          assert.deepEqual((await load(store, 's')).stage, sorted([host, b]));
        }));

      test('request.put adds or replaces a request to speak, and request.delete removes it', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          const r1: StageRequest = { identity: who('r1'), name: 'Rita', requestedAt: T0 + 1 };
          const r2: StageRequest = { identity: who('r2'), name: 'Ravi', requestedAt: T0 + 2 };
          const r1Again: StageRequest = { identity: who('r1'), name: 'Rita B.', requestedAt: T0 + 3 };

          await store.commit(space.id, [
            { op: 'request.put', request: r1 },
            { op: 'request.put', request: r2 },
          ]);
          const afterPut = await load(store, 's');
          await store.commit(space.id, [{ op: 'request.put', request: r1Again }]);
          const afterReplace = await load(store, 's');
          await store.commit(space.id, [{ op: 'request.delete', identity: r2.identity }]);
          const afterDelete = await load(store, 's');

          assert.deepEqual(afterPut.requests, [r1, r2]);
          assert.deepEqual(afterReplace.requests, [r1Again, r2]);
          assert.deepEqual(afterDelete.requests, [r1Again]);
        }));

      test('invite.put adds or replaces an invitation, and invite.delete removes it', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 's');
          const i1: Invite = { identity: who('i1'), invitedBy: host.identity, invitedAt: T0 + 1 };
          const i2: Invite = { identity: who('i2'), invitedBy: who('cohost-1'), invitedAt: T0 + 2 };
          const i1Again: Invite = { identity: who('i1'), invitedBy: who('cohost-1'), invitedAt: T0 + 3 };

          await store.commit(space.id, [
            { op: 'invite.put', invite: i1 },
            { op: 'invite.put', invite: i2 },
          ]);
          const afterPut = await load(store, 's');
          await store.commit(space.id, [{ op: 'invite.put', invite: i1Again }]);
          const afterReplace = await load(store, 's');
          await store.commit(space.id, [{ op: 'invite.delete', identity: i1.identity }]);
          const afterDelete = await load(store, 's');

          assert.deepEqual(afterPut.invites, [i1, i2]);
          assert.deepEqual(afterReplace.invites, [i1Again, i2]);
          assert.deepEqual(afterDelete.invites, [i2]);
        }));

      test('removal.put records a removal, and putting the same identity again keeps one record, the latest', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 's');
          const removal: Removal = { identity: who('troll'), removedBy: host.identity, removedAt: T0 + 1 };
          const again: Removal = { identity: who('troll'), removedBy: who('cohost-1'), removedAt: T0 + 2 };
          const other: Removal = { identity: who('spammer'), removedBy: host.identity, removedAt: T0 + 3 };

          await store.commit(space.id, [{ op: 'removal.put', removal }]);
          const afterFirst = await load(store, 's');
          await store.commit(space.id, [
            { op: 'removal.put', removal: again },
            { op: 'removal.put', removal: other },
          ]);
          const afterSecond = await load(store, 's');

          assert.deepEqual(afterFirst.removals, [removal]);
          assert.deepEqual(afterSecond.removals, sorted([again, other]));
        }));

      test('demotion.put records a demotion, and putting the same identity again keeps one record, the latest', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          const demotion: Demotion = { identity: who('loud'), at: T0 + 1 };
          const again: Demotion = { identity: who('loud'), at: T0 + 2 };

          await store.commit(space.id, [{ op: 'demotion.put', demotion }]);
          const afterFirst = await load(store, 's');
          await store.commit(space.id, [{ op: 'demotion.put', demotion: again }]);
          const afterSecond = await load(store, 's');

          assert.deepEqual(afterFirst.demotions, [demotion]);
          assert.deepEqual(afterSecond.demotions, [again]);
        }));

      test('action.append adds to the moderation log, which lists oldest first, honours limit, and is kept per space', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 's');
          await seed(store, 'other');
          const actions: ActionRecord[] = [
            { at: T0 + 1, actor: host.identity, action: 'space.start', target: null },
            { at: T0 + 2, actor: host.identity, action: 'participant.mute', target: who('speaker-1') },
            { at: T0 + 2, actor: who('cohost-1'), action: 'request.approve', target: who('listener-9') },
            { at: T0 + 3, actor: host.identity, action: 'participant.remove', target: who('troll') },
          ];

          await store.commit(space.id, [
            { op: 'action.append', action: actions[0]! },
            { op: 'action.append', action: actions[1]! },
          ]);
          await store.commit(space.id, [
            { op: 'action.append', action: actions[2]! },
            { op: 'action.append', action: actions[3]! },
          ]);
          await store.commit(sid('other'), [{ op: 'action.append', action: { at: T0, actor: who('x'), action: 'y', target: null } }]);

          assert.deepEqual(await store.listActions(space.id, 100), actions);
          assert.deepEqual(await store.listActions(space.id, 2), actions.slice(0, 2));
          assert.deepEqual(await store.listActions(sid('other'), 100), [{ at: T0, actor: who('x'), action: 'y', target: null }]);
          assert.deepEqual(await store.listActions(sid('unknown'), 100), []);
        }));

      test('one commit can carry every kind of op, applied in order', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 's');
          const speaker = member('sp', { muted: false });

          await store.commit(space.id, [
            { op: 'space.update', patch: { state: 'live', startedAt: T0 + 1 } },
            { op: 'request.put', request: { identity: speaker.identity, name: speaker.name, requestedAt: T0 + 2 } },
            { op: 'request.delete', identity: speaker.identity },
            { op: 'stage.put', member: speaker },
            { op: 'invite.put', invite: { identity: who('inv'), invitedBy: host.identity, invitedAt: T0 + 3 } },
            { op: 'removal.put', removal: { identity: who('gone'), removedBy: host.identity, removedAt: T0 + 4 } },
            { op: 'demotion.put', demotion: { identity: who('down'), at: T0 + 5 } },
            { op: 'action.append', action: { at: T0 + 5, actor: host.identity, action: 'participant.remove', target: who('gone') } },
          ]);
          const snapshot = await load(store, 's');

          assert.equal(snapshot.space.state, 'live');
          assert.equal(snapshot.space.startedAt, T0 + 1);
          assert.deepEqual(snapshot.stage, sorted([host, speaker]));
          assert.deepEqual(snapshot.requests, []);
          assert.deepEqual(snapshot.invites, [{ identity: who('inv'), invitedBy: host.identity, invitedAt: T0 + 3 }]);
          assert.deepEqual(snapshot.removals, [{ identity: who('gone'), removedBy: host.identity, removedAt: T0 + 4 }]);
          assert.deepEqual(snapshot.demotions, [{ identity: who('down'), at: T0 + 5 }]);
          assert.equal((await store.listActions(space.id, 10)).length, 1);
        }));

      test('a commit with no ops on a known space resolves and changes nothing', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          const before = await load(store, 's');

          await store.commit(space.id, []);

          assert.deepEqual(await load(store, 's'), before);
        }));

      test('a batch whose later op fails is rejected and leaves nothing of the batch applied', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 's');
          await store.commit(space.id, [{ op: 'action.append', action: { at: T0, actor: host.identity, action: 'before', target: null } }]);
          const before = await load(store, 's');
          const actionsBefore = await store.listActions(space.id, 100);

          const batch = store.commit(space.id, [
            { op: 'space.update', patch: { title: 'Half-applied?', state: 'live', recording: false } },
            { op: 'stage.put', member: member('good-speaker') },
            { op: 'stage.put', member: { ...host, muted: true } },
            { op: 'stage.delete', identity: host.identity },
            { op: 'request.put', request: { identity: who('req'), name: 'R', requestedAt: T0 + 1 } },
            { op: 'invite.put', invite: { identity: who('inv'), invitedBy: host.identity, invitedAt: T0 + 1 } },
            { op: 'removal.put', removal: { identity: who('rem'), removedBy: host.identity, removedAt: T0 + 1 } },
            { op: 'demotion.put', demotion: { identity: who('dem'), at: T0 + 1 } },
            { op: 'action.append', action: { at: T0 + 1, actor: host.identity, action: 'during', target: null } },
            { op: 'stage.put', member: member('bad-role', { role: 'emperor' as never }) },
          ]);

          await assert.rejects(batch);
          assert.deepEqual(await load(store, 's'), before);
          assert.deepEqual(await store.listActions(space.id, 100), actionsBefore);
        }));

      test('a failed batch does not stop the next commit from applying', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          await assert.rejects(store.commit(space.id, [{ op: 'stage.put', member: member('bad', { role: 'emperor' as never }) }]));

          await store.commit(space.id, [{ op: 'space.update', patch: { title: 'After failure' } }]);

          assert.equal((await load(store, 's')).space.title, 'After failure');
        }));

      test('a commit on an unknown space rejects with space_not_found and creates nothing', () =>
        withStore(async (store) => {
          await seed(store, 'known');

          await assert.rejects(store.commit(sid('ghost'), [{ op: 'space.update', patch: { title: 'Boo' } }]), isSpaceNotFound);
          await assert.rejects(store.commit(sid('ghost'), []), isSpaceNotFound);
          await assert.rejects(
            store.commit(sid('ghost'), [{ op: 'action.append', action: { at: T0, actor: who('x'), action: 'y', target: null } }]),
            isSpaceNotFound,
          );

          assert.equal(await store.loadSpace(sid('ghost')), undefined);
          assert.deepEqual(await store.listActions(sid('ghost'), 10), []);
        }));
    });

    describe('pinned link', () => {
      test('a pinned link is kept with the space, replaced, and taken down', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          const link = { url: 'https://example.com/a?b=1&c=“2”', title: 'Read <this>', pinnedBy: who('host-1'), pinnedAt: T0 + 5 };
          await store.commit(space.id, [{ op: 'space.update', patch: { pinnedLink: link } }]);
          assert.deepEqual((await load(store, 's')).space.pinnedLink, link);
          assert.deepEqual((await store.listSpaces({ limit: 5 }))[0]?.pinnedLink, link);
          await store.commit(space.id, [{ op: 'space.update', patch: { pinnedLink: null } }]);
          assert.equal((await load(store, 's')).space.pinnedLink, null);
          const trim = { start: 2.56, end: 61.44 };
          await store.commit(space.id, [{ op: 'space.update', patch: { replayTrim: trim } }]);
          assert.deepEqual((await load(store, 's')).space.replayTrim, trim, 'a replay trim is kept');
          await store.commit(space.id, [{ op: 'space.update', patch: { replayTrim: null } }]);
          assert.equal((await load(store, 's')).space.replayTrim, null);
        }));
    });

    describe('analytics', () => {
      test('tally points are kept in order with their change; replay counts add up from several writers', () =>
        withStore(async (store, opened) => {
          const { space } = await seed(store, 's');
          await store.commit(space.id, [{ op: 'tally.append', tally: { at: T0 + 2000, listeners: 7, reactions: { '🔥': 2 } } }]);
          await store.commit(space.id, [
            { op: 'space.update', patch: { peakListeners: 9 } },
            { op: 'tally.append', tally: { at: T0 + 1000, listeners: 9, reactions: {} } },
          ]);
          await assert.rejects(store.commit(sid('nope'), [{ op: 'tally.append', tally: { at: T0, listeners: 1, reactions: {} } }]));
          assert.deepEqual(await store.listTallies(space.id), [
            { at: T0 + 1000, listeners: 9, reactions: {} },
            { at: T0 + 2000, listeners: 7, reactions: { '🔥': 2 } },
          ]);
          assert.deepEqual(await store.listTallies(sid('other')), []);
          assert.deepEqual(await store.replayCounts(space.id), { plays: 0, downloads: 0 });
          const other = opened.another ? await opened.another() : store;
          await Promise.all([
            store.addReplayCounts(space.id, 2, 1),
            other.addReplayCounts(space.id, 3, 0),
            store.addReplayCounts(space.id, 0, 4),
          ]);
          assert.deepEqual(await store.replayCounts(space.id), { plays: 5, downloads: 5 });
        }));
    });

    describe('host feeds', () => {
      test('a host’s podcast settings are kept whole, replaced whole, and survive a reopen', () =>
        withStore(async (store, opened) => {
          assert.equal(await store.getHostFeed(who('ana')), undefined);
          const settings = { title: 'Ana “Live” & co', ownerEmail: 'a@example.com', category: 'Technology' as const, explicit: true };
          await store.putHostFeed(who('ana'), settings, T0);
          assert.deepEqual(await store.getHostFeed(who('ana')), settings);
          await store.putHostFeed(who('ana'), { language: 'fr' }, T0 + 1);
          assert.deepEqual(await store.getHostFeed(who('ana')), { language: 'fr' }, 'replaced, not merged');
          assert.equal(await store.getHostFeed(who('bo')), undefined);
          if (opened.reopen) {
            await store.close();
            const again = await opened.reopen();
            assert.deepEqual(await again.getHostFeed(who('ana')), { language: 'fr' });
          }
        }));
    });

    describe('reminders', () => {
      test('adding a reminder gives true the first time and false when it is already there', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');

          const first = await store.addReminder(space.id, who('fan'), T0 + 1);
          const second = await store.addReminder(space.id, who('fan'), T0 + 2);

          assert.equal(first, true);
          assert.equal(second, false);
          assert.equal(await store.countReminders(space.id), 1);
        }));

      test('removing a reminder gives true when one was there and false otherwise', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          await store.addReminder(space.id, who('fan'), T0);

          const first = await store.removeReminder(space.id, who('fan'));
          const second = await store.removeReminder(space.id, who('fan'));
          const never = await store.removeReminder(space.id, who('stranger'));

          assert.equal(first, true);
          assert.equal(second, false);
          assert.equal(never, false);
          assert.equal(await store.countReminders(space.id), 0);
        }));

      test('reminders are counted per space, and can be added again after removal', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          await seed(store, 'other');

          await store.addReminder(space.id, who('a'), T0);
          await store.addReminder(space.id, who('b'), T0);
          await store.addReminder(space.id, who('c'), T0);
          await store.addReminder(sid('other'), who('a'), T0);
          await store.removeReminder(space.id, who('b'));
          const readded = await store.addReminder(space.id, who('b'), T0 + 1);

          assert.equal(readded, true);
          assert.equal(await store.countReminders(space.id), 3);
          assert.equal(await store.countReminders(sid('other')), 1);
          assert.equal(await store.countReminders(sid('no-such-space')), 0);
        }));

      test('the reminders are listed in the order they were asked for, a page at a time', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          await store.addReminder(space.id, who('late'), T0 + 30);
          await store.addReminder(space.id, who('early'), T0 + 10);
          await store.addReminder(space.id, who('middle'), T0 + 20);
          await store.addReminder(sid('s'), who('early'), T0 + 99);

          assert.deepEqual(await store.listReminders(space.id, 10), [
            { identity: 'early', at: T0 + 10 },
            { identity: 'middle', at: T0 + 20 },
            { identity: 'late', at: T0 + 30 },
          ]);
          assert.deepEqual(
            (await store.listReminders(space.id, 1, 1)).map((r) => r.identity),
            ['middle'],
          );
          assert.deepEqual(await store.listReminders(sid('no-such-space'), 10), []);
        }));
    });

    describe('fencing: one owner per space, stale ones refused', () => {
      test('claim raises the epoch by one each time and records the node, which owner() reads back', () =>
        withStore(async (store) => {
          const { space } = await seed(store, 's');
          assert.equal(await store.owner(space.id), undefined, 'nobody owns a new space');
          const first = await store.claim(space.id, 'node-a');
          const second = await store.claim(space.id, 'node-b');
          assert.equal(second, first + 1);
          assert.deepEqual(await store.owner(space.id), { node: 'node-b', epoch: second });
          await assert.rejects(store.claim(sid('ghost'), 'node-a'), isSpaceNotFound);
          assert.equal(await store.owner(sid('ghost')), undefined);
        }));

      test('a commit fenced with the current epoch applies; one with an older epoch is refused with stale_owner and applies nothing', () =>
        withStore(async (store) => {
          const { space, host } = await seed(store, 's');
          const old = await store.claim(space.id, 'node-a');
          await store.commit(space.id, [{ op: 'space.update', patch: { title: 'By A' } }], { node: 'node-a', epoch: old });
          const current = await store.claim(space.id, 'node-b');
          const before = await load(store, 's');

          await assert.rejects(
            store.commit(
              space.id,
              [
                { op: 'space.update', patch: { title: 'By stale A' } },
                { op: 'action.append', action: { at: T0, actor: host.identity, action: 'stale', target: null } },
              ],
              { node: 'node-a', epoch: old },
            ),
            isStaleOwner,
          );
          assert.deepEqual(await load(store, 's'), before);
          assert.deepEqual(await store.listActions(space.id, 10), []);

          await store.commit(space.id, [{ op: 'space.update', patch: { title: 'By B' } }], { node: 'node-b', epoch: current });
          assert.equal((await load(store, 's')).space.title, 'By B');
          // Unfenced (one node, the embedded default) still commits.
          await store.commit(space.id, [{ op: 'space.update', patch: { title: 'Unfenced' } }]);
          assert.equal((await load(store, 's')).space.title, 'Unfenced');
        }));

      test('two nodes on one space at once: once B claims it, every commit A still sends is refused and B’s apply', (t) =>
        withStore(async (a, opened) => {
          if (!opened.another) {
            t.skip('this store has no second handle');
            return;
          }
          const b = await opened.another();
          const { space, host } = await seed(a, 's');
          const epochA = await a.claim(space.id, 'node-a');
          await a.commit(space.id, [{ op: 'stage.put', member: member('from-a-before') }], { node: 'node-a', epoch: epochA });
          const epochB = await b.claim(space.id, 'node-b');
          const fromA = Array.from({ length: 10 }, (_, i) =>
            a.commit(space.id, [{ op: 'stage.put', member: member(`from-a-${i}`) }], { node: 'node-a', epoch: epochA }),
          );
          const fromB = Array.from({ length: 10 }, (_, i) =>
            b.commit(space.id, [{ op: 'action.append', action: { at: T0 + i, actor: host.identity, action: `b-${i}`, target: null } }], {
              node: 'node-b',
              epoch: epochB,
            }),
          );
          const results = await Promise.allSettled([...fromA, ...fromB]);
          for (const r of results.slice(0, 10)) assert.ok(r.status === 'rejected' && isStaleOwner(r.reason));
          for (const r of results.slice(10)) assert.equal(r.status, 'fulfilled');
          const snapshot = await load(b, 's');
          assert.deepEqual(
            snapshot.stage.map((m) => m.identity),
            sorted([host, member('from-a-before')]).map((m) => m.identity),
          );
          assert.equal((await b.listActions(space.id, 100)).length, 10);
        }));
    });

    describe('ping and durability', () => {
      test('ping resolves on an open store', () =>
        withStore(async (store) => {
          await store.ping();
        }));

      test('everything committed before close is there after reopening', (t) =>
        withStore(async (store, opened) => {
          if (!opened.reopen) {
            t.skip('this store is not durable (no reopen)');
            return;
          }
          const { space, host } = await seed(store, 'durable', { recording: false, scheduledStart: T0 + 9 });
          await seed(store, 'second', { createdAt: T0 + 1 });
          await store.commit(space.id, [
            { op: 'space.update', patch: { state: 'live', startedAt: T0 + 10, peakListeners: 7 } },
            { op: 'stage.put', member: member('sp') },
            { op: 'request.put', request: { identity: who('req'), name: 'Req', requestedAt: T0 + 11 } },
            { op: 'invite.put', invite: { identity: who('inv'), invitedBy: host.identity, invitedAt: T0 + 12 } },
            { op: 'removal.put', removal: { identity: who('rem'), removedBy: host.identity, removedAt: T0 + 13 } },
            { op: 'demotion.put', demotion: { identity: who('dem'), at: T0 + 14 } },
            { op: 'action.append', action: { at: T0 + 15, actor: host.identity, action: 'participant.remove', target: who('rem') } },
          ]);
          await store.addReminder(space.id, who('fan'), T0 + 16);
          const snapshot = await load(store, 'durable');
          const actions = await store.listActions(space.id, 100);
          const listed = await store.listSpaces({ limit: 10 });

          await store.close();
          const again = await opened.reopen();

          assert.deepEqual(await load(again, 'durable'), snapshot);
          assert.deepEqual(await again.listActions(space.id, 100), actions);
          assert.deepEqual(await again.listSpaces({ limit: 10 }), listed);
          assert.equal(await again.countReminders(space.id), 1);
          assert.equal(await again.addReminder(space.id, who('fan'), T0 + 17), false);
        }));
    });
  });
}
