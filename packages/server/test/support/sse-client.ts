import http from 'node:http';
import { SseParser } from '@pns/test-support';

/** One parsed Server-Sent Event (comments are counted, not kept). */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
  retry: number | undefined;
}

/** An open event stream read the way the SSE specification reads it, for tests. */
export interface SseStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Events with data, and id-only events (`event` 'id'), in order. */
  events: SseEvent[];
  comments: number;
  /** Everything received, as text. */
  raw: string;
  /** Resolves when the server ended the stream. */
  ended: Promise<void>;
  close(): void;
}

/** Opens `url` as an event stream; resolves once the answer's head arrived (non-200 answers are read whole). */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers }, agent: false }, (response) => {
      let endedResolve: () => void = () => {};
      const stream: SseStream = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        events: [],
        comments: 0,
        raw: '',
        ended: new Promise<void>((done) => {
          endedResolve = done;
        }),
        close: () => request.destroy(),
      };
      const parser = new SseParser(
        (event) => {
          // An event with data is a message (or a named event); without data it only moves the id.
          const kind = event.data === undefined ? 'id' : (event.event ?? 'message');
          stream.events.push({ id: event.id, event: kind, data: event.data ?? '', retry: event.retry });
        },
        () => {
          stream.comments++;
        },
      );
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        stream.raw += chunk;
        parser.push(chunk);
      });
      response.on('end', () => endedResolve());
      response.on('close', () => endedResolve());
      if (stream.status === 200) resolve(stream);
      else response.on('end', () => resolve(stream));
    });
    request.on('error', reject);
  });
}
