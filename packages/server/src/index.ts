export { JwtSessionResolver } from './auth/jwt-session-resolver.js';
export type { Session, SessionResolver } from './auth/session-resolver.js';
export type * from './broker/broker.js';
export { MemoryBroker, type MemoryBrokerOptions } from './broker/memory-broker.js';
export { ConfigError, loadConfig, rawOptionsFrom } from './config/load-config.js';
export { optionTable, type ServerConfig } from './config/options.js';
export { type ClientPositionStore, MemoryClientPositionStore } from './hub/client-positions.js';
export { Hub } from './hub/hub.js';
export { createPnsServer, type PnsServer, type PnsServerParts } from './server.js';
