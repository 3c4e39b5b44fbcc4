export { cliPath, type SpawnedServer, type SpawnOptions, spawnServer } from './spawn-server.js';
export { type SseEvent, SseParser } from './sse-parser.js';
