/**
 * Channel names. A user listens to `user:<own id>` always, and to the
 * `topic:<name>` channels its token allows and its request asks for.
 */
export type ChannelKind = 'user' | 'topic';

export const maxChannelNameLength = 128;
const namePattern = /^[A-Za-z0-9_.@|+=~:-]+$/;

export function isValidChannelName(name: string): boolean {
  return name.length > 0 && name.length <= maxChannelNameLength && namePattern.test(name);
}

/** Parses `user:42` or `topic:news`; undefined for anything else. */
export function parseChannel(channel: string): { kind: ChannelKind; name: string } | undefined {
  const colon = channel.indexOf(':');
  if (colon < 0) return undefined;
  const kind = channel.slice(0, colon);
  const name = channel.slice(colon + 1);
  if ((kind !== 'user' && kind !== 'topic') || !isValidChannelName(name)) return undefined;
  return { kind, name };
}

export function userChannel(userId: string): string {
  return `user:${userId}`;
}

export function topicChannel(topic: string): string {
  return `topic:${topic}`;
}
