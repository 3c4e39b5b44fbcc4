export { cliPath, type SpawnedServer, type SpawnOptions, spawnServer } from './spawn-server.js';
