import http from 'node:http';

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
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        stream.raw += chunk;
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { id: undefined, event: 'message', data: '', retry: undefined };
          let hasData = false;
          let comment = true;
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':');
            const field = colon === -1 ? line : line.slice(0, colon);
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === '') continue;
            comment = false;
            if (field === 'id') event.id = value;
            else if (field === 'event') event.event = value;
            else if (field === 'retry') event.retry = Number(value);
            else if (field === 'data') {
              event.data += hasData ? `\n${value}` : value;
              hasData = true;
            }
          }
          if (comment) stream.comments++;
          else stream.events.push(hasData ? event : { ...event, event: 'id' });
          end = buffer.indexOf('\n\n');
        }
      });
      response.on('end', () => endedResolve());
      response.on('close', () => endedResolve());
      if (stream.status === 200) resolve(stream);
      else response.on('end', () => resolve(stream));
    });
    request.on('error', reject);
  });
}
