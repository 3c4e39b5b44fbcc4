// The Broker contract, notification: publish events to subscribers, and where a position stands against one.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { BrokerEntry, PublishEvent, ReadResult } from '../../src/broker/broker.js';
import { type Conformance, entryFor, ids, readAllLimit, waitUntil } from './context.js';

/** Whom `subscribe` tells, and when. */
export function subscribeCases(c: Conformance): void {
  const { channel, publishOne, listen, flush } = c;

  it('calls the listener once per publish with the entries for its channel', async () => {
    const ch = channel('listen');
    const otherCh = channel('listen-other');
    const start = await c.broker.head(ch);
    const { events, unsubscribe } = listen(ch);
    try {
      const first = await publishOne([ch]);
      await publishOne([otherCh]);
      const second = await publishOne([otherCh, ch]);
      const sentinel = await flush(ch, events);
      assert.deepEqual(
        events.map((event) => event.message.id),
        [first, second, sentinel],
      );
      const stored = await c.broker.read(ch, start, 2);
      events.slice(0, 2).forEach((event, index) => {
        const entry = stored.entries[index] as BrokerEntry;
        assert.equal(event.order, entry.order);
        assert.deepEqual(event.message, entry.message);
        assert.deepEqual(entryFor(event, ch).position, entry.position);
      });
    } finally {
      unsubscribe();
    }
  });

  it('calls listeners only after the message is stored', async () => {
    const ch = channel('stored-first');
    const reads: Promise<ReadResult>[] = [];
    const unsubscribe = c.broker.subscribe(ch, (event) => {
      reads.push(c.broker.read(ch, entryFor(event, ch).previous, readAllLimit));
    });
    try {
      const id = await publishOne([ch]);
      await waitUntil(() => reads.length === 1, 'the event');
      assert.deepEqual(ids(await (reads[0] as Promise<ReadResult>)), [id]);
    } finally {
      unsubscribe();
    }
  });

  it('stops calling the listener once unsubscribed', async () => {
    const ch = channel('unsubscribe');
    const first = listen(ch);
    const second = listen(ch);
    try {
      await publishOne([ch]);
      await waitUntil(() => first.events.length === 1, 'the first event');
      first.unsubscribe();
      await publishOne([ch]);
      await flush(ch, second.events);
      assert.equal(second.events.length, 3);
      assert.equal(first.events.length, 1);
    } finally {
      first.unsubscribe();
      second.unsubscribe();
    }
  });
}

/** What `standing` says of a position. */
export function standingCases(c: Conformance): void {
  const { channel, publishOne, listen } = c;

  it("tells 'next', 'seen' and 'behind' apart", async () => {
    const ch = channel('standing');
    const beforeFirst = await c.broker.head(ch);
    await publishOne([ch]);
    const headBefore = await c.broker.head(ch);
    const { events, unsubscribe } = listen(ch);
    let event: PublishEvent;
    try {
      const id = await publishOne([ch]);
      await waitUntil(() => events.length === 1, 'the event');
      event = events[0] as PublishEvent;
      assert.equal(event.message.id, id);
    } finally {
      unsubscribe();
    }
    const published = entryFor(event, ch);
    assert.deepEqual(published.previous, headBefore);
    assert.equal(c.broker.standing(headBefore, published), 'next');
    assert.equal(c.broker.standing(published.previous, published), 'next');
    assert.equal(c.broker.standing(published.position, published), 'seen');
    assert.equal(c.broker.standing(await c.broker.head(ch), published), 'seen');
    await publishOne([ch]);
    assert.equal(c.broker.standing(await c.broker.head(ch), published), 'seen');
    assert.equal(c.broker.standing(beforeFirst, published), 'behind');
    assert.equal(c.broker.standing({ epoch: 'other', offset: '0' }, published), 'behind');
  });
}
