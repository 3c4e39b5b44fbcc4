export * from './channel.js';
export * from './cursor.js';
export * from './errors.js';
export * from './message.js';
