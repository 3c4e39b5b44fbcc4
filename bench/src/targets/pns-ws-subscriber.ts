/**
 * The pns WebSocket subscriber, run in load generators: one `GET /pns/ws`
 * connection per subscriber with the `ws` package (docs/protocol.md §13).
 * Every frame is a poll answer `{c, msg, cursor}`; the first comes once
 * everything retained was sent, so it marks the connection live. A lost
 * connection resumes from the last frame's cursor. ws answers the server's
 * pings by itself.
 */
import { WebSocket } from 'ws';
import { forEachPayload, type PollAnswer } from './pns-client.js';
import { type OpenStream, pnsStreamFactory } from './pns-stream.js';

/** Frames larger than this are not pns's (a poll answer of a bench message is a few hundred bytes). */
const maxFrameBytes = 16 << 20;

export const openWs: OpenStream = (request, events) => {
  const { server, query, cursor, localAddress, idleTimeoutMs } = request;
  const url = `ws://${server.host}/pns/ws?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
  const socket = new WebSocket(url, {
    perMessageDeflate: false,
    maxPayload: maxFrameBytes,
    handshakeTimeout: idleTimeoutMs,
    ...(localAddress ? { localAddress } : {}),
  });
  let closing = false;
  let live = false;
  let failure: Error | undefined;
  socket.on('message', (data, isBinary) => {
    if (closing) return;
    try {
      if (isBinary) throw new Error('binary frame');
      const answer = JSON.parse(String(data)) as PollAnswer;
      forEachPayload(answer, events.message);
      events.position(answer.cursor);
      if (!live) {
        live = true;
        events.live();
      }
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      socket.terminate();
    }
  });
  socket.on('error', (error) => {
    failure ??= error;
  });
  socket.on('close', (code, reason) => {
    if (closing) return;
    events.ended(failure ?? new Error(`close ${code}${reason.length ? ` ${reason.toString()}` : ''}`));
  });
  return {
    close() {
      closing = true;
      socket.terminate();
    },
  };
};

export const factory = pnsStreamFactory(openWs);
