// The Broker contract, idempotency and batches: retries, id conflicts, and batches stored whole or not at all.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { type Conformance, ids, readAllLimit, retentionCount } from './context.js';

const isConflict = (error: unknown): boolean => (error as { code?: unknown }).code === 'ID_CONFLICT';

/** How `publish` treats ids it has seen: duplicates, conflicts, and batches stored whole or not at all. */
export function idempotencyCases(c: Conformance): void {
  const { channel, messageId, message, publishOne, listen, flush } = c;

  it('answers a retry with the same id, scope and fingerprint as a duplicate without storing it again', async () => {
    const ch = channel('idempotent');
    const id = messageId('retry');
    const start = await c.broker.head(ch);
    const { events, unsubscribe } = listen(ch);
    try {
      const request = message([ch], { id, fingerprint: 'same-content' });
      assert.deepEqual(await c.broker.publish([request]), [{ id, duplicate: false }]);
      const headAfterFirst = await c.broker.head(ch);
      assert.deepEqual(await c.broker.publish([{ ...request }]), [{ id, duplicate: true }]);
      assert.deepEqual(await c.broker.head(ch), headAfterFirst);
      assert.deepEqual(ids(await c.broker.read(ch, start, readAllLimit)), [id]);
      await flush(ch, events);
      assert.equal(events.filter((event) => event.message.id === id).length, 1);
    } finally {
      unsubscribe();
    }
  });

  it('stores the new messages of a batch that also retries an earlier one', async () => {
    const ch = channel('mixed-batch');
    const id = messageId('earlier');
    const earlier = message([ch], { id });
    await c.broker.publish([earlier]);
    const start = await c.broker.head(ch);
    const outcomes = await c.broker.publish([earlier, message([ch])]);
    assert.equal(outcomes.length, 2);
    assert.deepEqual(outcomes[0], { id, duplicate: true });
    assert.equal(outcomes[1]?.duplicate, false);
    assert.deepEqual(ids(await c.broker.read(ch, start, readAllLimit)), [outcomes[1]?.id]);
  });

  it('still answers a retry as a duplicate after the message was trimmed by the retention count', async () => {
    const ch = channel('idempotent-trimmed');
    const id = messageId('trimmed');
    const request = message([ch], { id });
    await c.broker.publish([request]);
    for (let i = 0; i < retentionCount + 5; i++) await publishOne([ch]);
    const head = await c.broker.head(ch);
    assert.deepEqual(await c.broker.publish([request]), [{ id, duplicate: true }]);
    assert.deepEqual(await c.broker.head(ch), head);
    const result = await c.broker.read(ch, head, readAllLimit);
    assert.deepEqual(result.entries, []);
  });

  it('rejects the whole batch with ID_CONFLICT when an id comes back with another fingerprint', async () => {
    const ch = channel('conflict-fingerprint');
    const id = messageId('taken');
    await c.broker.publish([message([ch], { id, fingerprint: 'original' })]);
    const start = await c.broker.head(ch);
    const { events, unsubscribe } = listen(ch);
    try {
      const innocent = messageId('innocent');
      const batch = [message([ch], { id: innocent }), message([ch], { id, fingerprint: 'changed' }), message([ch])];
      await assert.rejects(c.broker.publish(batch), isConflict);
      assert.deepEqual((await c.broker.read(ch, start, readAllLimit)).entries, []);
      await flush(ch, events);
      assert.equal(events.length, 1, 'only the sentinel was told');
      // Nothing of the batch was remembered either: its other id is still free.
      assert.deepEqual(await c.broker.publish([message([ch], { id: innocent, fingerprint: 'other' })]), [
        { id: innocent, duplicate: false },
      ]);
    } finally {
      unsubscribe();
    }
  });

  it('rejects the whole batch with ID_CONFLICT when an id comes back from another scope', async () => {
    const ch = channel('conflict-scope');
    const id = messageId('scoped');
    await c.broker.publish([message([ch], { id, scope: 'publisher-a', fingerprint: 'same' })]);
    const start = await c.broker.head(ch);
    const other = channel('conflict-scope-other');
    const otherStart = await c.broker.head(other);
    await assert.rejects(
      c.broker.publish([message([ch], { id, scope: 'publisher-b', fingerprint: 'same' }), message([other])]),
      isConflict,
    );
    assert.deepEqual((await c.broker.read(ch, start, readAllLimit)).entries, []);
    assert.deepEqual((await c.broker.read(other, otherStart, readAllLimit)).entries, []);
  });

  it('rejects a batch that uses one new id for two different messages, storing neither', async () => {
    const ch = channel('conflict-in-batch');
    const id = messageId('twice');
    const start = await c.broker.head(ch);
    await assert.rejects(
      c.broker.publish([message([ch], { id, fingerprint: 'first' }), message([ch], { id, fingerprint: 'second' })]),
      isConflict,
    );
    assert.deepEqual((await c.broker.read(ch, start, readAllLimit)).entries, []);
    assert.deepEqual(await c.broker.publish([message([ch], { id, fingerprint: 'third' })]), [{ id, duplicate: false }]);
  });
}
