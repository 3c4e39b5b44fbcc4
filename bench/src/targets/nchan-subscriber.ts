/**
 * Nchan subscriber for the load generator: a raw node:http long-poll loop
 * following Nchan's message-id protocol. Each answer carries one message and
 * its id in `Last-Modified` + `Etag`; the next request sends them back as
 * `If-Modified-Since` + `If-None-Match`, so messages published while no
 * request is held are fetched from the channel's buffer, in order, exactly once.
 *
 * Starting point: the first request carries no message id and the location is
 * configured with `nchan_subscriber_first_message newest`, so it waits for the
 * next message ("now"). Nchan answers nothing until a message arrives, and a
 * 304 carries no message id, so there is no cursor to fetch up front. To know
 * the request is held before `subscribe()` resolves, the subscriber reads the
 * channel's subscriber count (GET on the publisher location, `Accept:
 * text/json`) before sending the poll and then until it has gone up. Nchan
 * registers a held request synchronously with the channel (one worker, memory
 * store), so once the count shows it, any later publish reaches it. For a
 * user+topic subscriber (multiplexed channels), the user channel is checked;
 * Nchan registers both channels of one request together.
 */
import http from 'node:http';
import { type BenchPayload, clientKeepAliveMsecs, type LoadContext, type SubscriberFactory } from '../target.js';

/** Nchan channel of one user. */
export function nchanUserChannel(user: string): string {
  return `u.${user}`;
}

/** Nchan channel of one topic. */
export function nchanTopicChannel(topic: string): string {
  return `t.${topic}`;
}

/** Source address of this load generator's connections (LoadContext.localAddress). */
let localAddress: string | undefined;
/** Subscription checks: a few pooled sockets shared by all subscribers, so they add no descriptors per subscriber. */
let infoAgent = new http.Agent({ keepAlive: true, keepAliveMsecs: clientKeepAliveMsecs, maxSockets: 8 });
let reportError: (kind: string) => void = () => {};

const CONFIRM_TIMEOUT_MS = 120_000;

/** After a failed poll: 100 ms doubling up to 1 s, with jitter (50–100 %), as the pns subscriber does. */
function backoffMs(failures: number): number {
  return Math.min(1000, 100 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
}

/** Current subscriber count of a channel (0 when Nchan does not know the channel). */
function subscriberCount(hostname: string, port: number, channel: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { hostname, port, path: `/pub/${encodeURIComponent(channel)}`, agent: infoAgent, headers: { accept: 'text/json' } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => {
          if (response.statusCode === 404) return resolve(0);
          if (response.statusCode !== 200) return reject(new Error(`channel info ${channel}: HTTP ${response.statusCode}`));
          try {
            const info = JSON.parse(body) as { subscribers?: unknown };
            resolve(typeof info.subscribers === 'number' ? info.subscribers : 0);
          } catch {
            reject(new Error(`channel info ${channel}: unreadable answer ${body}`));
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export const factory: SubscriberFactory = {
  init(context: LoadContext) {
    localAddress = context.localAddress;
    infoAgent = new http.Agent({
      keepAlive: true,
      keepAliveMsecs: clientKeepAliveMsecs,
      maxSockets: 8,
      ...(context.localAddress === undefined ? {} : { localAddress: context.localAddress }),
    });
    reportError = context.reportError;
  },

  async subscribe(serverUrl, user, topic, onMessage) {
    const base = new URL(serverUrl);
    const hostname = base.hostname;
    const port = Number(base.port);
    const userChannel = nchanUserChannel(user);
    const path =
      topic === undefined
        ? `/sub/${encodeURIComponent(userChannel)}`
        : `/sub/${encodeURIComponent(userChannel)}/${encodeURIComponent(nchanTopicChannel(topic))}`;

    const before = await subscriberCount(hostname, port, userChannel);

    // One keep-alive agent with one socket per subscriber: the next poll, sent
    // from the previous answer's 'end' handler, waits in the agent's queue for
    // that socket (node:http frees it on the next tick) instead of opening a
    // new connection; and no agent holds thousands of sockets in the arrays it
    // searches on every request.
    const pollAgent = new http.Agent({
      keepAlive: true,
      keepAliveMsecs: clientKeepAliveMsecs,
      maxSockets: 1,
      ...(localAddress === undefined ? {} : { localAddress }),
    });

    let lastModified: string | undefined;
    let etag: string | undefined;
    let closed = false;
    let current: http.ClientRequest | undefined;
    let retryTimer: NodeJS.Timeout | undefined;
    let failures = 0;
    let firstSent: (() => void) | undefined;
    const sent = new Promise<void>((resolve) => {
      firstSent = resolve;
    });

    const retry = (kind: string) => {
      if (closed) return;
      reportError(kind);
      retryTimer = setTimeout(poll, backoffMs(++failures));
    };

    function poll(): void {
      retryTimer = undefined;
      if (closed) return;
      const headers: http.OutgoingHttpHeaders = {};
      if (lastModified !== undefined) headers['if-modified-since'] = lastModified;
      if (etag !== undefined) headers['if-none-match'] = etag;
      const request = http.request({ hostname, port, path, agent: pollAgent, headers }, (response) => {
        const status = response.statusCode ?? 0;
        if (status === 200 || status === 408 || status === 304) failures = 0;
        if (status !== 200) {
          response.resume();
          response.on('end', () => {
            if (current !== request) return;
            // 408: the hold ran out without a message; ask again with the same id.
            if (status === 408 || status === 304) poll();
            else retry(`HTTP ${status}`);
          });
          return;
        }
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => {
          if (current !== request || closed) return;
          const modified = response.headers['last-modified'];
          const tag = response.headers.etag;
          if (modified !== undefined) lastModified = modified;
          if (tag !== undefined) etag = tag;
          poll();
          let payload: BenchPayload;
          try {
            payload = JSON.parse(body) as BenchPayload;
          } catch {
            reportError('unreadable message');
            return;
          }
          onMessage(payload);
        });
      });
      current = request;
      request.on('error', (error: NodeJS.ErrnoException) => {
        if (current === request) retry(error.code ?? 'poll error');
      });
      if (firstSent !== undefined) request.on('finish', firstSent);
      request.end();
    }

    const stop = () => {
      closed = true;
      if (retryTimer !== undefined) clearTimeout(retryTimer);
      current?.destroy();
      current = undefined;
      pollAgent.destroy();
    };

    poll();
    try {
      const deadline = Date.now() + CONFIRM_TIMEOUT_MS;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        sent,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`nchan: ${path} could not be sent in ${CONFIRM_TIMEOUT_MS} ms`)), CONFIRM_TIMEOUT_MS);
        }),
      ]).finally(() => clearTimeout(timer));
      firstSent = undefined;
      let wait = 2;
      while ((await subscriberCount(hostname, port, userChannel)) <= before) {
        if (Date.now() > deadline) throw new Error(`nchan: ${path} not held after ${CONFIRM_TIMEOUT_MS} ms`);
        await sleep(wait);
        wait = Math.min(wait * 2, 200);
      }
    } catch (error) {
      stop();
      throw error;
    }

    return { close: stop };
  },
};
