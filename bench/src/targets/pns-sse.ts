/**
 * pns over Server-Sent Events: the same `pns serve` as the `pns` target (memory broker, one process
 * pinned to the server core, publishing over HTTP), its subscribers holding `GET /pns/sse` streams
 * (pns-sse-subscriber.ts). The heartbeat comment comes once per hold (3600 s in the bench) rather than
 * every 15 s, so that idle streams cause no traffic, as every other target's idle clients do.
 */
import type { Target } from '../target.js';
import { pnsTargetWith } from './pns.js';

export const pnsSseTarget: Target = pnsTargetWith('pns-sse', './targets/pns-sse-subscriber.js', (options) => [
  '--sse-heartbeat-seconds',
  String(options.holdSeconds),
]);
