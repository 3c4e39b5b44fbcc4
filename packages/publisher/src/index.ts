export { createPublisher, PublishError, Publisher, type PublisherOptions, type PublishOptions } from './publisher.js';
export { createToken, parseDuration, type TokenOptions } from './token.js';
