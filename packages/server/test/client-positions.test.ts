import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type MemoryClientPositionOptions, MemoryClientPositionStore } from '../src/hub/client-positions.js';

/** A store on a clock the test moves by hand. */
function makeStore(options: Partial<MemoryClientPositionOptions> = {}): {
  store: MemoryClientPositionStore;
  advance: (ms: number) => void;
} {
  let time = 1_000_000;
  const store = new MemoryClientPositionStore({ maxEntries: 100, ttlMs: 10_000, now: () => time, ...options });
  return {
    store,
    advance: (ms) => {
      time += ms;
    },
  };
}

describe('MemoryClientPositionStore', { timeout: 60_000 }, () => {
  describe('#get', () => {
    it('returns undefined for a key never set', async () => {
      const { store } = makeStore();
      assert.equal(await store.get('stranger'), undefined);
      await store.set('known', 'v1.cursor');
      assert.equal(await store.get('stranger'), undefined);
    });

    it('returns the cursor last set for the key', async () => {
      const { store } = makeStore();
      await store.set('client-a', 'v1.first');
      await store.set('client-b', 'v1.other');
      assert.equal(await store.get('client-a'), 'v1.first');
      await store.set('client-a', 'v1.second');
      assert.equal(await store.get('client-a'), 'v1.second');
      assert.equal(await store.get('client-b'), 'v1.other');
      assert.equal(store.size(), 2);
    });

    it("returns 'expired', not undefined, once the entry outlived ttlMs", async () => {
      const { store, advance } = makeStore({ ttlMs: 10_000 });
      await store.set('client', 'v1.cursor');
      advance(9_999);
      assert.equal(await store.get('client'), 'v1.cursor');
      advance(1);
      assert.equal(await store.get('client'), 'expired');
      assert.equal(await store.get('client'), 'expired');
      assert.equal(store.size(), 0);
    });

    it("returns 'expired' for an entry aged out while other clients were set", async () => {
      const { store, advance } = makeStore({ ttlMs: 10_000 });
      await store.set('old', 'v1.old');
      advance(10_000);
      await store.set('new', 'v1.new');
      assert.equal(store.size(), 1);
      assert.equal(await store.get('old'), 'expired');
      assert.equal(await store.get('new'), 'v1.new');
    });

    it('forgets an aged-out key in the end', async () => {
      const { store, advance } = makeStore({ ttlMs: 10_000 });
      await store.set('client', 'v1.cursor');
      advance(10_000);
      assert.equal(await store.get('client'), 'expired');
      advance(10_000);
      assert.equal(await store.get('client'), undefined);
    });
  });

  describe('#set', () => {
    it("evicts the least recently set key beyond maxEntries, which then reads as 'expired'", async () => {
      const { store } = makeStore({ maxEntries: 2 });
      await store.set('a', 'v1.a');
      await store.set('b', 'v1.b');
      await store.set('c', 'v1.c');
      assert.equal(store.size(), 2);
      assert.equal(await store.get('a'), 'expired');
      assert.equal(await store.get('b'), 'v1.b');
      assert.equal(await store.get('c'), 'v1.c');
    });

    it('counts setting a key again as a use for the eviction order', async () => {
      const { store } = makeStore({ maxEntries: 2 });
      await store.set('a', 'v1.a');
      await store.set('b', 'v1.b');
      await store.set('a', 'v1.a2');
      await store.set('c', 'v1.c');
      assert.equal(await store.get('a'), 'v1.a2');
      assert.equal(await store.get('b'), 'expired');
      assert.equal(await store.get('c'), 'v1.c');
    });

    it('restarts the ttl of a key set again', async () => {
      const { store, advance } = makeStore({ ttlMs: 10_000 });
      await store.set('client', 'v1.first');
      advance(8_000);
      await store.set('client', 'v1.second');
      advance(8_000);
      assert.equal(await store.get('client'), 'v1.second');
    });

    it('makes an expired key known again once set', async () => {
      const { store, advance } = makeStore({ ttlMs: 10_000 });
      await store.set('client', 'v1.first');
      advance(10_000);
      assert.equal(await store.get('client'), 'expired');
      await store.set('client', 'v1.second');
      assert.equal(await store.get('client'), 'v1.second');
    });
  });
});
