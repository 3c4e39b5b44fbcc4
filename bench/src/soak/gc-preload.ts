/**
 * Loaded into the pns server by the soak test only: `node --expose-gc --import <this file> pns.mjs serve`,
 * spawned with an IPC channel (server.ts). On the driver's request it forces a full garbage collection and
 * answers with process.memoryUsage(), so the heap's live size can be compared at two moments of the run
 * without adding anything to pns's own API. It lives in bench/, never in packages/server.
 */
import type { GcRequest, MemoryAnswer } from './server-protocol.js';

const collect = (globalThis as { gc?: () => void }).gc;

function isGcRequest(message: unknown): message is GcRequest {
  return typeof message === 'object' && message !== null && (message as Partial<GcRequest>).soak === 'gc';
}

if (process.send && collect) {
  process.on('message', (message: unknown) => {
    if (!isGcRequest(message)) return;
    // Twice: what the first collection's finalizers and weak references let go is freed by the second.
    collect();
    collect();
    process.send?.({ soak: 'memory', req: message.req, memory: process.memoryUsage() } satisfies MemoryAnswer);
  });
  // The channel must not keep alive a server that would otherwise exit (pns exits by itself after a drain).
  process.channel?.unref();
}
