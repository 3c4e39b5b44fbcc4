/**
 * Faye as a benchmark target: bench/src/peers-servers/faye-server.ts
 * (faye.NodeAdapter at /faye, memory engine, long-polling with
 * timeout = the longest hold) in its own Node.js process pinned to the server
 * core; one channel per user (`/user/<user>`) and per topic (`/topic/<topic>`).
 *
 * Publishing: the driver POSTs a Bayeux publish message straight to /faye
 * (`[{"channel": ..., "data": ...}]`, JSON). Faye accepts a publish without a
 * client id, so this is Faye's own protocol with no handshake and no held
 * /meta/connect for the publisher (a faye.Client in the driver would keep a
 * session and batch). The alternative, a custom endpoint calling the server's
 * in-process `getClient().publish()`, was no cheaper for the server when
 * measured here (1,000 subscribers, 20,000 messages: ≈ 5,200–5,300 delivered
 * messages per server CPU-second this way, ≈ 4,200–5,500 through the
 * endpoint), so the native way is kept. Resolves when Faye answered
 * `successful: true`.
 */
import { posterOf, startPeerServer } from '../peers-servers/peer-process.js';
import type { BenchPayload, StartedServer, Target, TargetOptions } from '../target.js';
import { fayeTopicChannel, fayeUserChannel } from './faye-subscriber.js';

const SERVER_SCRIPT = new URL('../peers-servers/faye-server.js', import.meta.url);

async function publish(server: StartedServer, channel: string, payload: BenchPayload): Promise<void> {
  const answer = await posterOf(server).post('/faye', JSON.stringify([{ channel, data: payload }]));
  const replies = JSON.parse(answer) as { successful?: boolean; error?: string }[];
  if (replies[0]?.successful !== true) throw new Error(`faye publish to ${channel} failed: ${answer}`);
}

export const fayeTarget: Target = {
  name: 'faye',
  subscriberModule: './faye-subscriber.js',

  start: (options: TargetOptions) => startPeerServer(SERVER_SCRIPT, options),

  publishToUser(server: StartedServer, user: string, payload: BenchPayload): Promise<void> {
    return publish(server, fayeUserChannel(user), payload);
  },

  publishToTopic(server: StartedServer, topic: string, payload: BenchPayload): Promise<void> {
    return publish(server, fayeTopicChannel(topic), payload);
  },
};
