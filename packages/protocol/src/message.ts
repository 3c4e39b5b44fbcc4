/** A message type chosen by the publisher: the seed's webmail uses 70 for "new mail". */
export type MessageType = number | string;

/** One delivered message. `id` is unique across the service; clients dedupe by it. */
export interface PnsMessage<T = unknown> {
  id: string;
  /** The channel it was delivered on (for a message sent to several channels, one of them). */
  ch: string;
  type: MessageType;
  /** Publish time, epoch milliseconds. */
  ts: number;
  data: T;
}

/** The 200 body of `GET /pns/poll`. `c == 0` means the hold ended with nothing new. */
export interface PollResponse {
  c: number;
  msg: PnsMessage[];
  cursor: string;
  /** Messages after the client's position were evicted or the position could not be served: resync. */
  gap?: true;
  /** More held polls of this session arrived; wait one hold before polling again. */
  superseded?: true;
}

/** One message in the body of `POST /pns/publish` (the body is one of these or an array of them). */
export interface PublishMessage<T = unknown> {
  to: string | string[];
  type: MessageType;
  data?: T;
  /** Seconds to retain the message for clients that are not connected right now. */
  ttl?: number;
  /** Publisher-chosen id: makes a retry idempotent. */
  id?: string;
}

/** The 200 body of `POST /pns/publish`: one id per message, in order. */
export interface PublishResponse {
  ids: string[];
}

export const maxMessageIdLength = 128;
const messageIdPattern = /^[\x21-\x7e]+$/;

export function isValidMessageId(id: string): boolean {
  return id.length > 0 && id.length <= maxMessageIdLength && messageIdPattern.test(id);
}

export const maxStringTypeLength = 64;

export function isValidMessageType(type: unknown): type is MessageType {
  if (typeof type === 'number') return Number.isFinite(type);
  return typeof type === 'string' && type.length > 0 && type.length <= maxStringTypeLength;
}
