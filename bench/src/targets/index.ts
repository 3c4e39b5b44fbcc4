import type { Target } from '../target.js';
import { fayeTarget } from './faye.js';
import { nchanTarget } from './nchan.js';
import { pnsTarget } from './pns.js';
import { socketIoTarget } from './socketio.js';

/**
 * Every target the bench knows, in the order it runs them. Nchan, when it
 * runs, is the reference every ratio compares with (report.ts).
 */
export const targets: readonly Target[] = [pnsTarget, nchanTarget, socketIoTarget, fayeTarget];
