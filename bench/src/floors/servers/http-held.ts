/** Floor of a held request on plain node:http: keeps every response open, never answers. */
import http from 'node:http';
import { listenAndAnnounce } from './announce.js';

const held = new Set<http.ServerResponse>();

const server = http.createServer((_request, response) => {
  held.add(response);
  response.on('close', () => held.delete(response));
});

listenAndAnnounce(server);
