import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isValidChannelName, maxChannelNameLength, parseChannel, topicChannel, userChannel } from '../src/channel.js';

const nameChars = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@|+=~:-'];
const validName = fc.string({ unit: fc.constantFrom(...nameChars), minLength: 1, maxLength: maxChannelNameLength });

describe('channel', { timeout: 60_000 }, () => {
  describe('#isValidChannelName', () => {
    it('accepts names of the allowed characters up to maxChannelNameLength', () => {
      for (const name of ['42', 'news', 'a.b-c_d', 'user@example.com', 'a|b+c=d~e:f', 'x'.repeat(maxChannelNameLength)]) {
        assert.equal(isValidChannelName(name), true, name);
      }
    });

    it('rejects empty, too long and names with other characters', () => {
      for (const name of ['', 'x'.repeat(maxChannelNameLength + 1), 'a b', 'a/b', 'a#b', 'a,b', 'caf\u00e9', 'a\nb', 'a?b', '%41']) {
        assert.equal(isValidChannelName(name), false, JSON.stringify(name));
      }
    });
  });

  describe('#parseChannel', () => {
    it('parses user and topic channels', () => {
      assert.deepEqual(parseChannel('user:42'), { kind: 'user', name: '42' });
      assert.deepEqual(parseChannel('topic:news'), { kind: 'topic', name: 'news' });
    });

    it('splits at the first colon only', () => {
      assert.deepEqual(parseChannel('topic:a:b'), { kind: 'topic', name: 'a:b' });
    });

    it('returns undefined for other kinds and invalid names', () => {
      const invalid = [
        '',
        'user',
        'user:',
        ':42',
        'chat:42',
        'User:42',
        ' user:42',
        'user:4 2',
        'topic:news,sport',
        `topic:${'x'.repeat(maxChannelNameLength + 1)}`,
      ];
      for (const channel of invalid) assert.equal(parseChannel(channel), undefined, JSON.stringify(channel));
    });

    it('inverts userChannel and topicChannel for every valid name', () => {
      fc.assert(
        fc.property(validName, (name) => {
          assert.deepEqual(parseChannel(userChannel(name)), { kind: 'user', name });
          assert.deepEqual(parseChannel(topicChannel(name)), { kind: 'topic', name });
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('#userChannel', () => {
    it('prefixes the user id', () => {
      assert.equal(userChannel('42'), 'user:42');
    });
  });

  describe('#topicChannel', () => {
    it('prefixes the topic', () => {
      assert.equal(topicChannel('news'), 'topic:news');
    });
  });
});
