// A text/event-stream reader for tests and the bench, which read pns's SSE streams without EventSource.

/** One event as the stream's fields left it (the SSE parsing model, without its defaults). */
export interface SseEvent {
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
 * event, a line starting with `:` is a comment, `field: value` sets a field (one space
 * after the colon is dropped; `data` lines join with LF).
 */
export class SseParser {
  private pending = '';
  private current = emptyEvent();

  constructor(
    private readonly dispatch: (event: SseEvent) => void,
    private readonly comment: () => void = () => {},
  ) {}

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
    if (line.startsWith(':')) {
      this.comment();
      return;
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
    if (field === 'data') this.current.data = this.current.data === undefined ? value : `${this.current.data}\n${value}`;
    else if (field === 'id') this.current.id = value;
    else if (field === 'event') this.current.event = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.current.retry = Number(value);
  }
}
