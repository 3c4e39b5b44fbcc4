import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { TransportName } from '../src/stream-link.js';
import { TransportChoice, type TransportChoiceOptions } from '../src/transport-choice.js';

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

function choice(overrides: Partial<TransportChoiceOptions> = {}): { choice: TransportChoice; storage: MemoryStorage; upgrades: number[] } {
  const storage = new MemoryStorage();
  const upgrades: number[] = [];
  const made = new TransportChoice({
    setting: 'auto',
    available: () => true,
    storage,
    key: 'k',
    fallbackFailures: 2,
    fallbackWindowMs: 60_000,
    upgradeAfterMs: 1000,
    onUpgradeDue: () => upgrades.push(Date.now()),
    random: () => 0,
    ...overrides,
  });
  return { choice: made, storage: (overrides.storage as MemoryStorage | undefined) ?? storage, upgrades };
}

/** Fails `name` `times` times, 1 s apart, from `start`. */
function fail(made: TransportChoice, name: TransportName, times: number, start = 0): void {
  for (let n = 0; n < times; n++) made.failed(name, start + n * 1000);
}

describe('TransportChoice', () => {
  describe('#current', () => {
    it('starts with the best transport this environment has', () => {
      assert.equal(choice().choice.current(), 'websocket');
      assert.equal(choice({ available: (name) => name !== 'websocket' }).choice.current(), 'sse');
      assert.equal(choice({ available: (name) => name === 'longpoll' }).choice.current(), 'longpoll');
    });

    it('uses only the transport asked for, and refuses one this environment lacks', () => {
      assert.equal(choice({ setting: 'sse' }).choice.current(), 'sse');
      assert.throws(() => choice({ setting: 'websocket', available: (name) => name !== 'websocket' }), TypeError);
    });

    it('starts with the transport remembered for the tab', (t: TestContext) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const storage = new MemoryStorage();
      storage.setItem('k', 'sse');
      const { choice: made } = choice({ storage });
      assert.equal(made.current(), 'sse');
      made.dispose();
    });

    it('ignores a remembered name it does not know, and storage that throws', () => {
      const storage = new MemoryStorage();
      storage.setItem('k', 'carrier-pigeon');
      assert.equal(choice({ storage }).choice.current(), 'websocket');
      const throwing = {
        getItem: (): string => {
          throw new Error('SecurityError');
        },
        setItem: (): void => {
          throw new Error('QuotaExceededError');
        },
      };
      const { choice: made } = choice({ storage: throwing });
      assert.equal(made.current(), 'websocket');
      assert.doesNotThrow(() => made.live('websocket'));
    });
  });

  describe('#failed', () => {
    it('steps down after two failures within the window, and never below long polling', (t: TestContext) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { choice: made } = choice();
      fail(made, 'websocket', 1);
      assert.equal(made.current(), 'websocket');
      fail(made, 'websocket', 1, 5000);
      assert.equal(made.current(), 'sse');
      fail(made, 'sse', 2, 6000);
      assert.equal(made.current(), 'longpoll');
      fail(made, 'longpoll', 5, 9000);
      assert.equal(made.current(), 'longpoll');
      made.dispose();
    });

    it('does not step down for failures further apart than the window', () => {
      const { choice: made } = choice();
      made.failed('websocket', 0);
      made.failed('websocket', 60_000);
      made.failed('websocket', 120_000);
      assert.equal(made.current(), 'websocket');
    });

    it('forgets failures once the transport is live', () => {
      const { choice: made } = choice();
      made.failed('websocket', 0);
      made.live('websocket');
      made.failed('websocket', 1000);
      assert.equal(made.current(), 'websocket');
    });

    it('ignores reports about a transport it no longer uses', (t: TestContext) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { choice: made } = choice();
      fail(made, 'websocket', 2);
      fail(made, 'websocket', 4, 3000);
      assert.equal(made.current(), 'sse');
      made.dispose();
    });

    it('never steps down from a transport asked for', () => {
      const { choice: made } = choice({ setting: 'websocket' });
      fail(made, 'websocket', 10);
      assert.equal(made.current(), 'websocket');
    });
  });

  describe('#live', () => {
    it('remembers the transport for the tab', () => {
      const { choice: made, storage } = choice();
      made.live('websocket');
      assert.equal(storage.getItem('k'), 'websocket');
    });
  });

  describe('trying the best transport again', () => {
    it('tries it after upgradeAfterMs, keeps it when it goes live', (t: TestContext) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { choice: made, upgrades, storage } = choice();
      fail(made, 'websocket', 2);
      made.live('sse');
      t.mock.timers.tick(999);
      assert.deepEqual([made.current(), upgrades.length], ['sse', 0]);
      t.mock.timers.tick(1);
      assert.deepEqual([made.current(), upgrades.length], ['websocket', 1]);
      made.live('websocket');
      assert.equal(storage.getItem('k'), 'websocket');
      t.mock.timers.tick(100_000);
      assert.deepEqual([made.current(), upgrades.length], ['websocket', 1]);
    });

    it('goes back at the first failure of the trial, and waits twice as long before the next', (t: TestContext) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { choice: made, upgrades } = choice({ available: (name) => name !== 'sse' });
      fail(made, 'websocket', 2);
      assert.equal(made.current(), 'longpoll');
      made.live('longpoll');
      t.mock.timers.tick(1000);
      assert.equal(made.current(), 'websocket');
      made.failed('websocket', 10_000);
      assert.equal(made.current(), 'longpoll');
      made.live('longpoll');
      t.mock.timers.tick(1999);
      assert.equal(upgrades.length, 1);
      t.mock.timers.tick(1);
      assert.deepEqual([made.current(), upgrades.length], ['websocket', 2]);
      made.dispose();
    });

    it('climbs one step at a time: from long polling to SSE, then to WebSocket', (t: TestContext) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { choice: made, upgrades } = choice();
      fail(made, 'websocket', 2);
      fail(made, 'sse', 2, 5000);
      made.live('longpoll');
      t.mock.timers.tick(1000);
      assert.deepEqual([made.current(), upgrades.length], ['sse', 1]);
      made.live('sse');
      t.mock.timers.tick(1000);
      assert.deepEqual([made.current(), upgrades.length], ['websocket', 2]);
      made.failed('websocket', 20_000);
      assert.equal(made.current(), 'sse', 'back to what worked, not to long polling');
      made.dispose();
    });

    it('plans no try before the lesser transport has worked', (t: TestContext) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { choice: made, upgrades } = choice();
      fail(made, 'websocket', 2);
      fail(made, 'sse', 1, 5000);
      t.mock.timers.tick(10_000);
      assert.deepEqual([made.current(), upgrades.length], ['sse', 0]);
      made.live('sse');
      t.mock.timers.tick(1000);
      assert.deepEqual([made.current(), upgrades.length], ['websocket', 1]);
    });

    it('stops trying once disposed', (t: TestContext) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { choice: made, upgrades } = choice();
      fail(made, 'websocket', 2);
      made.live('sse');
      made.dispose();
      made.live('sse');
      t.mock.timers.tick(10_000);
      assert.deepEqual([made.current(), upgrades.length], ['sse', 0]);
    });
  });
});
