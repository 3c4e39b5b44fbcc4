/**
 * The pns SSE subscriber, run in load generators: one `GET /pns/sse` per
 * subscriber on its own connection, read with node:http as a stream of
 * events (docs/protocol.md §12; no EventSource polyfill). Each message event's
 * id is the cursor after it; the `live` event says everything retained was
 * sent. A lost stream resumes with `Last-Event-ID`, as EventSource does.
 */
import http from 'node:http';
import type { BenchPayload } from '../target.js';
import { retryAfterMs } from './pns-client.js';
import { type OpenStream, pnsStreamFactory, type StreamEvents } from './pns-stream.js';

/** One event as the stream's fields left it (the SSE parsing model, without its defaults). */
interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string | undefined;
  retry: number | undefined;
}

/** A line longer than this (no newline in it) is not SSE from pns: the stream is dropped. */
const maxLineChars = 1 << 20;

const emptyEvent = (): SseEvent => ({ id: undefined, event: undefined, data: undefined, retry: undefined });

/**
 * Splits a text/event-stream into events: lines end with LF or CRLF (pns sends LF), a blank line ends an
 * event, a line starting with `:` is a comment (the heartbeat), `field: value` sets a field (one space
 * after the colon is dropped; `data` lines join with LF).
 */
class SseParser {
  private pending = '';
  private current = emptyEvent();

  constructor(private readonly dispatch: (event: SseEvent) => void) {}

  /** Feeds a chunk; false when the stream is not one (a line too long). */
  push(chunk: string): boolean {
    this.pending += chunk;
    let start = 0;
    for (let end = this.pending.indexOf('\n', start); end >= 0; end = this.pending.indexOf('\n', start)) {
      const line = this.pending.slice(start, this.pending.charCodeAt(end - 1) === 13 ? end - 1 : end);
      start = end + 1;
      this.line(line);
    }
    this.pending = this.pending.slice(start);
    return this.pending.length <= maxLineChars;
  }

  private line(line: string): void {
    if (line === '') {
      const event = this.current;
      this.current = emptyEvent();
      if (event.id !== undefined || event.event !== undefined || event.data !== undefined) this.dispatch(event);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
    if (field === 'data') this.current.data = this.current.data === undefined ? value : `${this.current.data}\n${value}`;
    else if (field === 'id') this.current.id = value;
    else if (field === 'event') this.current.event = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.current.retry = Number(value);
  }
}

/**
 * What one event means to the subscriber. A message is `id` + `data`; `live` (and, from a server older than
 * the `live` event, an event with an id and nothing else) says the stream caught up; `end` comes before
 * the server closes the stream, `retry` saying when to come back.
 */
function handleEvent(event: SseEvent, events: StreamEvents, state: StreamState): void {
  if (event.retry !== undefined) state.retryMs = event.retry;
  const kind = event.event ?? 'message';
  if (kind === 'message' && event.data !== undefined && event.data !== '') {
    const message = JSON.parse(event.data) as { data: unknown };
    events.message(message.data as BenchPayload);
  }
  if (event.id !== undefined && event.id !== '') events.position(event.id);
  if (kind === 'live' || (kind === 'message' && event.data === undefined && event.id !== undefined)) events.live();
  if (kind === 'end') state.endReason = (JSON.parse(event.data ?? '{}') as { reason?: string }).reason ?? '?';
}

/** What a stream's events said about its end. */
interface StreamState {
  retryMs: number | undefined;
  endReason: string | undefined;
}

const openSse: OpenStream = (request, events) => {
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
