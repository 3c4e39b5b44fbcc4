/**
 * Floor of a held request at the TCP level: accepts, reads until the end of the request head and never
 * answers. What any HTTP server on Node.js pays per connection before HTTP parsing and response objects.
 */
import net from 'node:net';
import { listenAndAnnounce } from './announce.js';

const held = new Set<net.Socket>();
const endOfHead = '\r\n\r\n';

const server = net.createServer((socket) => {
  held.add(socket);
  let head = '';
  const onData = (chunk: Buffer): void => {
    head += chunk.toString('latin1');
    // Stop buffering once the head is complete: a held request keeps no more than its socket.
    if (head.includes(endOfHead)) {
      head = '';
      socket.off('data', onData).on('data', () => {});
    }
  };
  socket.on('data', onData);
  socket.on('error', () => {});
  socket.on('close', () => held.delete(socket));
});

listenAndAnnounce(server);
