import type { PnsMessage } from '@pns/protocol';
import { type StreamEnd, type StreamHandlers, type StreamLink, type StreamTarget, streamUrl } from './stream-link.js';

const endReasons: Record<string, StreamEnd> = {
  shutdown: { kind: 'shutdown' },
  superseded: { kind: 'superseded' },
  expired: { kind: 'expired' },
  error: { kind: 'backend' },
};

/**
 * `GET /pns/sse` read with EventSource: each message event's id is the cursor after it. EventSource's own
 * reconnecting is not used (it cannot refresh a token or fall back): the first error closes the stream, and the
 * client reconnects with the last id as its cursor.
 */
export function openSseLink(EventSourceClass: typeof EventSource, target: StreamTarget, handlers: StreamHandlers): StreamLink {
  const source = new EventSourceClass(streamUrl(target, '/pns/sse'));
  let last = target.cursor;
  let ended = false;
  const end = (how: StreamEnd): void => {
    if (ended) return;
    ended = true;
    source.close();
    handlers.end(how);
  };
  /** The id the event carried, or the last one (an event without an id keeps the previous one). */
  const cursorOf = (event: MessageEvent): string => {
    if (event.lastEventId) last = event.lastEventId;
    return last;
  };
  const on = (type: string, listener: (event: MessageEvent<string>) => void): void => {
    source.addEventListener(type, (event) => {
      if (!ended) listener(event as MessageEvent<string>);
    });
  };
  on('message', (event) => {
    let message: unknown;
    try {
      message = JSON.parse(event.data);
    } catch {
      return end({ kind: 'closed' });
    }
    if (typeof (message as PnsMessage | null)?.id !== 'string') return end({ kind: 'closed' });
    handlers.answer({ c: 1, msg: [message as PnsMessage], cursor: cursorOf(event) });
  });
  on('live', (event) => {
    const heartbeat = dataField(event, 'heartbeat');
    handlers.live(typeof heartbeat === 'number' && heartbeat > 0 ? heartbeat : 0);
    handlers.answer({ c: 0, msg: [], cursor: cursorOf(event) });
  });
  on('ping', () => handlers.alive());
  on('gap', (event) => handlers.answer({ c: 0, msg: [], cursor: cursorOf(event), gap: true }));
  on('end', (event) => {
    const before = last;
    if (cursorOf(event) !== before) handlers.answer({ c: 0, msg: [], cursor: last });
    end(endReasons[String(dataField(event, 'reason'))] ?? { kind: 'closed' });
  });
  source.onerror = () => end({ kind: 'closed' });
  return {
    close: () => {
      ended = true;
      source.close();
    },
  };
}

/** One field of an event's JSON data; undefined when the data is not a JSON object. */
function dataField(event: MessageEvent<string>, name: string): unknown {
  try {
    return (JSON.parse(event.data) as Record<string, unknown> | null)?.[name];
  } catch {
    return undefined;
  }
}
