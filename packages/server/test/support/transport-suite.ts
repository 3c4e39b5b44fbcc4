import assert from 'node:assert/strict';
import { after, afterEach, before } from 'node:test';
import type { PublishMessage } from '@pns/protocol';
import type { RawOptions } from '../../src/config/options.js';
import { startTestServer, type TestServer } from './harness.js';
import { type OpenOptions, openSubscriber, type Seen, type TransportName, type TransportSubscriber } from './transport-subscriber.js';

/** What each case of the black-box transport suites uses; made by `useTransportSuite` inside a transport's describe. */
export interface TransportSuite {
  /** The server the describe shares (started before its first case). */
  readonly t: TestServer;
  /** Opens a subscriber of this transport, closed after the case. */
  open(server: TestServer, options: OpenOptions): TransportSubscriber;
  /** A server of the case's own (stopped after the case), for options the shared one does not have. */
  startServer(options?: RawOptions): Promise<TestServer>;
  /** A user id of this transport's own, so no two describes share a channel. */
  user(name: string): string;
  /** Publishes and returns the ids, asserting a 200. */
  publish(server: TestServer, message: PublishMessage | PublishMessage[]): Promise<string[]>;
  /**
   * Publishes two marker messages to `users`, one after the other, and waits until each subscriber has both:
   * everything published before has arrived, and nothing was delivered again in between.
   */
  sentinel(server: TestServer, users: string[], waiting: TransportSubscriber[]): Promise<string[]>;
  /** The sentinels as `seen` lists them. */
  sentinelSeen(ids: string[], to: string): Seen[];
  /** Nothing the protocol does not allow arrived, and the connection is still open. */
  assertHealthy(subscriber: TransportSubscriber): void;
}

/** Registers the describe's hooks (a shared server; subscribers and servers of a case closed after it). */
export function useTransportSuite(transport: TransportName): TransportSuite {
  let shared: TestServer | undefined;
  const subscribers: TransportSubscriber[] = [];
  const servers: TestServer[] = [];
  before(async () => {
    shared = await startTestServer();
  });
  after(() => shared?.close());
  afterEach(async () => {
    await Promise.all(subscribers.splice(0).map((subscriber) => subscriber.close()));
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  const publish = async (server: TestServer, message: PublishMessage | PublishMessage[]): Promise<string[]> => {
    const answer = await server.publish(message);
    assert.equal(answer.status, 200, answer.text);
    return (answer.json as { ids: string[] }).ids;
  };
  return {
    get t() {
      assert.ok(shared, 'the shared server starts before the first case');
      return shared;
    },
    open(server, options) {
      const subscriber = openSubscriber(transport, server.url, options);
      subscribers.push(subscriber);
      return subscriber;
    },
    async startServer(options = {}) {
      const server = await startTestServer(options);
      servers.push(server);
      return server;
    },
    user: (name) => `${transport}-${name}`,
    publish,
    async sentinel(server, users, waiting) {
      const ids: string[] = [];
      for (const _ of [1, 2]) {
        const [id] = await publish(server, { to: users.map((u) => `user:${u}`), type: 'sentinel' });
        for (const subscriber of waiting) await subscriber.waitForId(id as string);
        ids.push(id as string);
      }
      return ids;
    },
    sentinelSeen: (ids, to) => ids.map((id) => ({ id, ch: `user:${to}`, type: 'sentinel', data: null })),
    assertHealthy(subscriber) {
      assert.deepEqual(subscriber.protocolErrors, []);
      assert.equal(subscriber.ending, undefined, `ended: ${JSON.stringify(subscriber.ending)}`);
    },
  };
}
