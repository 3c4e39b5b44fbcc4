/**
 * The pns SSE subscriber, run in load generators: one `GET /pns/sse` per
 * subscriber on its own connection, read with node:http as a stream of
 * events (docs/protocol.md §12; no EventSource polyfill). Each message event's
 * id is the cursor after it; the `live` event says everything retained was
 * sent. A lost stream resumes with `Last-Event-ID`, as EventSource does.
 */
import http from 'node:http';
import { type SseEvent, SseParser } from '@pns/test-support';
import type { BenchPayload } from '../target.js';
import { retryAfterMs } from './pns-client.js';
import { type OpenStream, pnsStreamFactory, type StreamEvents } from './pns-stream.js';

/**
 * What one event means to the subscriber. A message is `id` + `data`; `live` says the stream caught up; `end`
 * comes before the server closes the stream, `retry` saying when to come back.
 */
function handleEvent(event: SseEvent, events: StreamEvents, state: StreamState): void {
  if (event.retry !== undefined) state.retryMs = event.retry;
  const kind = event.event ?? 'message';
  if (kind === 'message' && event.data !== undefined && event.data !== '') {
    const message = JSON.parse(event.data) as { data: unknown };
    events.message(message.data as BenchPayload);
  }
  if (event.id !== undefined && event.id !== '') events.position(event.id);
  if (kind === 'live') events.live();
  if (kind === 'end') state.endReason = (JSON.parse(event.data ?? '{}') as { reason?: string }).reason ?? '?';
}

/** What a stream's events said about its end. */
interface StreamState {
  retryMs: number | undefined;
  endReason: string | undefined;
}

export const openSse: OpenStream = (request, events) => {
  const { server, query, cursor, localAddress, idleTimeoutMs } = request;
  let closing = false;
  let done = false;
  const state: StreamState = { retryMs: undefined, endReason: undefined };
  const end = (error: Error, retryMs?: number): void => {
    if (done || closing) return;
    done = true;
    events.ended(error, retryMs);
  };
  const get = http.get(
    {
      agent: false,
      hostname: server.hostname,
      port: server.port,
      path: `/pns/sse?${query}`,
      headers: { accept: 'text/event-stream', ...(cursor ? { 'last-event-id': cursor } : {}) },
      timeout: idleTimeoutMs,
      ...(localAddress ? { localAddress } : {}),
    },
    (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        end(new Error(`HTTP ${response.statusCode}`), retryAfterMs(response.headers['retry-after']));
        get.destroy();
        return;
      }
      const parser = new SseParser((event) => {
        if (done || closing) return;
        try {
          handleEvent(event, events, state);
        } catch (error) {
          end(error instanceof Error ? error : new Error(String(error)));
          get.destroy();
        }
      });
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        if (!parser.push(chunk)) {
          end(new Error('SSE line too long'));
          get.destroy();
        }
      });
      response.on('error', (error) => end(error));
      response.on('close', () => end(new Error(state.endReason ? `end: ${state.endReason}` : 'stream closed'), state.retryMs));
    },
  );
  get.on('timeout', () => get.destroy(new Error('SSE idle timeout')));
  get.on('error', (error) => end(error));
  return {
    close() {
      closing = true;
      get.destroy();
    },
  };
};

export const factory = pnsStreamFactory(openSse);
