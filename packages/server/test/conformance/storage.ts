// The Broker contract, storing and reading: what a publish stores and what read and head then answer.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { StreamPosition } from '@pns/protocol';
import type { BrokerEntry } from '../../src/broker/broker.js';
import { type Conformance, delay, ids, readAllLimit, retentionCount } from './context.js';

/** What `publish` stores: ids, several channels, batches. */
export function storingCases(c: Conformance): void {
  const { channel, messageId, message, publishOne, onlyEntry } = c;

  it('stores a message that a read from the earlier head returns', async () => {
    const ch = channel('publish');
    const start = await c.broker.head(ch);
    const [outcome] = await c.broker.publish([message([ch], { type: 'mail', dataJson: '{"subject":"hi"}' })]);
    assert.ok(outcome);
    assert.equal(outcome.duplicate, false);
    const result = await c.broker.read(ch, start, readAllLimit);
    assert.equal(result.gap, false);
    assert.equal(result.more, false);
    assert.deepEqual(result.from, start);
    assert.equal(result.entries.length, 1);
    const entry = result.entries[0] as BrokerEntry;
    assert.equal(entry.channel, ch);
    assert.equal(entry.message.id, outcome.id);
    assert.equal(entry.message.type, 'mail');
    assert.equal(entry.message.dataJson, '{"subject":"hi"}');
    assert.ok(Number.isFinite(entry.message.ts) && entry.message.ts > 0);
    assert.deepEqual(result.to, entry.position);
    assert.deepEqual(result.to, await c.broker.head(ch));
  });

  it('makes up a distinct id for each message published without one', async () => {
    const ch = channel('generated-ids');
    const outcomes = await c.broker.publish([message([ch]), message([ch])]);
    assert.equal(outcomes.length, 2);
    const [first, second] = outcomes.map((outcome) => outcome.id);
    assert.ok(first && first.length > 0);
    assert.ok(second && second.length > 0);
    assert.notEqual(first, second);
  });

  it('keeps the publisher-chosen id', async () => {
    const ch = channel('chosen-id');
    const start = await c.broker.head(ch);
    const id = messageId('chosen');
    assert.deepEqual(await c.broker.publish([message([ch], { id })]), [{ id, duplicate: false }]);
    assert.equal((await onlyEntry(ch, start)).message.id, id);
  });

  it('stores a message sent to several channels once in each, with equal order and id', async () => {
    const channels = [channel('multi-a'), channel('multi-b'), channel('multi-c')];
    const starts = await Promise.all(channels.map((ch) => c.broker.head(ch)));
    const id = await publishOne(channels, { dataJson: '[1,2,3]' });
    const entries = await Promise.all(channels.map((ch, index) => onlyEntry(ch, starts[index] as StreamPosition)));
    const [first] = entries as [BrokerEntry];
    entries.forEach((entry, index) => {
      assert.equal(entry.channel, channels[index]);
      assert.equal(entry.message.id, id);
      assert.equal(entry.order, first.order);
      assert.deepEqual(entry.message, first.message);
    });
  });

  it('stores every message of a batch, answering one outcome per message in order', async () => {
    const channels = [channel('batch-a'), channel('batch-b'), channel('batch-c')];
    const starts = await Promise.all(channels.map((ch) => c.broker.head(ch)));
    const chosen = messageId('batch');
    const outcomes = await c.broker.publish(channels.map((ch, index) => message([ch], index === 1 ? { id: chosen } : {})));
    assert.equal(outcomes.length, 3);
    assert.equal(outcomes[1]?.id, chosen);
    assert.ok(outcomes.every((outcome) => !outcome.duplicate));
    const entries = await Promise.all(channels.map((ch, index) => onlyEntry(ch, starts[index] as StreamPosition)));
    assert.deepEqual(
      entries.map((entry) => entry.message.id),
      outcomes.map((outcome) => outcome.id),
    );
    // Readers merge channels by order: a batch keeps its own order.
    assert.ok((entries[0] as BrokerEntry).order < (entries[1] as BrokerEntry).order);
    assert.ok((entries[1] as BrokerEntry).order < (entries[2] as BrokerEntry).order);
  });
}

/** What `read` returns: order, limits, and gaps (retention, ttl, another epoch). */
export function readingCases(c: Conformance): void {
  const { channel, publishOne, onlyEntry } = c;

  it('returns nothing and no gap from the head', async () => {
    const ch = channel('empty');
    await publishOne([ch]);
    const head = await c.broker.head(ch);
    const result = await c.broker.read(ch, head, readAllLimit);
    assert.deepEqual(result.entries, []);
    assert.equal(result.gap, false);
    assert.equal(result.more, false);
    assert.deepEqual(result.to, head);
  });

  it('returns nothing and no gap from the head of a channel never published to', async () => {
    const ch = channel('never');
    const head = await c.broker.head(ch);
    const result = await c.broker.read(ch, head, readAllLimit);
    assert.deepEqual(result.entries, []);
    assert.equal(result.gap, false);
    assert.equal(result.more, false);
  });

  it('returns entries in publish order, resuming exactly after any entry position', async () => {
    const ch = channel('order');
    const start = await c.broker.head(ch);
    const published: string[] = [];
    for (let i = 0; i < retentionCount; i++) published.push(await publishOne([ch]));
    const all = await c.broker.read(ch, start, readAllLimit);
    assert.deepEqual(ids(all), published);
    assert.equal(all.gap, false);
    for (let k = 1; k < all.entries.length; k++) {
      assert.ok((all.entries[k] as BrokerEntry).order > (all.entries[k - 1] as BrokerEntry).order, 'order increases');
    }
    for (let k = 0; k < all.entries.length; k++) {
      const position = (all.entries[k] as BrokerEntry).position;
      const rest = await c.broker.read(ch, position, readAllLimit);
      assert.deepEqual(ids(rest), published.slice(k + 1), `after entry ${k}`);
      assert.equal(rest.gap, false);
      assert.deepEqual(rest.from, position);
    }
  });

  it('returns at most `limit` entries, with `more` and `to` at the last one when more remain', async () => {
    const ch = channel('limit');
    const start = await c.broker.head(ch);
    const published: string[] = [];
    for (let i = 0; i < 4; i++) published.push(await publishOne([ch]));
    const first = await c.broker.read(ch, start, 2);
    assert.deepEqual(ids(first), published.slice(0, 2));
    assert.equal(first.more, true);
    assert.deepEqual(first.to, (first.entries[1] as BrokerEntry).position);
    const second = await c.broker.read(ch, first.to, 2);
    assert.deepEqual(ids(second), published.slice(2));
    assert.equal(second.more, false);
    assert.deepEqual(second.to, await c.broker.head(ch));
    const exact = await c.broker.read(ch, start, 4);
    assert.equal(exact.entries.length, 4);
    assert.equal(exact.more, false);
  });

  it('reports a gap to a reader behind the retention count and returns what is retained', async () => {
    const ch = channel('retention');
    const start = await c.broker.head(ch);
    const published: string[] = [];
    const positions: StreamPosition[] = [];
    for (let i = 0; i < retentionCount + 3; i++) {
      const previousHead = await c.broker.head(ch);
      published.push(await publishOne([ch]));
      positions.push((await onlyEntry(ch, previousHead)).position);
    }
    const retained = published.slice(-retentionCount);
    const fromStart = await c.broker.read(ch, start, readAllLimit);
    assert.equal(fromStart.gap, true);
    assert.deepEqual(ids(fromStart), retained);
    const fromTrimmed = await c.broker.read(ch, positions[1] as StreamPosition, readAllLimit);
    assert.equal(fromTrimmed.gap, true);
    assert.deepEqual(ids(fromTrimmed), retained);
    // A reader that saw the last trimmed entry missed nothing.
    const fromLastTrimmed = await c.broker.read(ch, positions[2] as StreamPosition, readAllLimit);
    assert.equal(fromLastTrimmed.gap, false);
    assert.deepEqual(ids(fromLastTrimmed), retained);
  });

  it('reports a gap to a reader before a message whose ttl ran out', async () => {
    const ch = channel('ttl');
    const start = await c.broker.head(ch);
    const shortLived = await publishOne([ch], { ttlSeconds: 1 });
    const longLived = await publishOne([ch], { ttlSeconds: 300 });
    const shortPosition = (await c.broker.read(ch, start, 1)).entries[0]?.position;
    assert.ok(shortPosition);
    assert.deepEqual(ids(await c.broker.read(ch, start, readAllLimit)), [shortLived, longLived]);
    await delay(1100);
    const result = await c.broker.read(ch, start, readAllLimit);
    assert.equal(result.gap, true);
    assert.deepEqual(ids(result), [longLived]);
    const fromShort = await c.broker.read(ch, shortPosition, readAllLimit);
    assert.equal(fromShort.gap, false);
    assert.deepEqual(ids(fromShort), [longLived]);
  });

  it('reports a gap for a position from another epoch and returns what is retained', async () => {
    const ch = channel('epoch');
    const published = [await publishOne([ch]), await publishOne([ch])];
    const foreign = { epoch: 'other', offset: '0' };
    const result = await c.broker.read(ch, foreign, readAllLimit);
    assert.equal(result.gap, true);
    assert.deepEqual(ids(result), published);
    assert.notDeepEqual(result.from, foreign);
    const resumed = await c.broker.read(ch, result.to, readAllLimit);
    assert.equal(resumed.gap, false);
    assert.deepEqual(resumed.entries, []);
  });
}

/** How `head` moves. */
export function headCases(c: Conformance): void {
  const { channel, publishOne, onlyEntry } = c;

  it('moves past each message published to the channel', async () => {
    const ch = channel('head');
    const previousHead = await c.broker.head(ch);
    await publishOne([ch]);
    const newHead = await c.broker.head(ch);
    assert.notDeepEqual(newHead, previousHead);
    assert.deepEqual((await onlyEntry(ch, previousHead)).position, newHead);
  });
}
