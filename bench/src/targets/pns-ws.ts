/**
 * pns over WebSocket: the same `pns serve` as the `pns` target (memory broker, one process pinned to the
 * server core, publishing over HTTP), its subscribers holding `GET /pns/ws` connections
 * (pns-ws-subscriber.ts). The server pings once per hold (3600 s in the bench) rather than every 25 s,
 * as Socket.IO's ping interval is set to the hold: idle connections cause no traffic.
 */
import type { Target } from '../target.js';
import { pnsTargetWith } from './pns.js';

export const pnsWsTarget: Target = pnsTargetWith('pns-ws', './targets/pns-ws-subscriber.js', (options) => [
  '--ws-ping-seconds',
  String(options.holdSeconds),
]);
