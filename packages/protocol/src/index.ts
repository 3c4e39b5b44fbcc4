export * from './channel.js';
export * from './cursor.js';
export * from './dashboard-stats.js';
export * from './errors.js';
export * from './message.js';
export * from './webmail-demo.js';
