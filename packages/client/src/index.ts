export type { MessageType, PnsMessage, PollResponse } from '@pns/protocol';
export { PnsClient, type PnsClientOptions, type PnsEvents, type PnsStatus } from './client.js';
export type { PnsClientError } from './poll-request.js';
export { defaultRetryOptions, type RetryOptions } from './retry-policy.js';
export type { TransportName } from './stream-link.js';
export type { TransportSetting } from './transport-choice.js';
