import type { Target } from '../target.js';
import { fayeTarget } from './faye.js';
import { nchanRedisTarget, nchanTarget } from './nchan.js';
import { pnsTarget } from './pns.js';
import { pnsRedis3Target, pnsRedisTarget, pnsWorkersTarget } from './pns-redis.js';
import { pnsSseTarget } from './pns-sse.js';
import { pnsWsTarget } from './pns-ws.js';
import { socketIoTarget } from './socketio.js';
import { socketioWsTarget } from './socketio-ws.js';

/**
 * Every target the bench knows, in the order it runs them. Nchan, when it
 * runs, is the reference every ratio compares with (report.ts).
 */
export const targets: readonly Target[] = [
  pnsTarget,
  pnsSseTarget,
  pnsWsTarget,
  pnsRedisTarget,
  pnsRedis3Target,
  pnsWorkersTarget,
  nchanTarget,
  nchanRedisTarget,
  socketIoTarget,
  socketioWsTarget,
  fayeTarget,
];
