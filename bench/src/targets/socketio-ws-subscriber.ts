/**
 * Socket.IO subscriber over WebSocket only (`transports: ['websocket']`, no
 * polling first): the same subscriber as socketio-subscriber.ts, one ws
 * connection per subscriber.
 */
import type { SubscriberFactory } from '../target.js';
import { socketioSubscriberFactory } from './socketio-subscriber.js';

export const factory: SubscriberFactory = socketioSubscriberFactory('websocket');
