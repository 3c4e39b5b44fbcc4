/**
 * The pns long-poll subscriber (pns-subscriber.ts) for a target of several pns nodes: the server URL a
 * load generator gets lists the nodes, space-separated (StartedServer.subscriberUrl), and subscriber i
 * (user `u<i>`) polls node i mod n, so the subscribers are spread round-robin over the nodes whichever
 * load generator opens them.
 */
import type { SubscriberFactory } from '../target.js';
import { factory as single } from './pns-subscriber.js';

/** Subscriber i's index from its user name (`u<i>`, loadgen-protocol.ts); 0 for any other name. */
function indexOf(user: string): number {
  const match = /^u(\d+)$/.exec(user);
  return match ? Number(match[1]) : 0;
}

export const factory: SubscriberFactory = {
  init: (context) => single.init?.(context),
  subscribe(serverUrl, user, topic, onMessage) {
    const nodes = serverUrl.split(' ').filter(Boolean);
    const node = nodes[indexOf(user) % nodes.length] ?? serverUrl;
    return single.subscribe(node, user, topic, onMessage);
  },
};
