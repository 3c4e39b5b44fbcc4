import type { BrokerEntry, BrokerMessage } from '../broker/broker.js';
import type { Delivery } from '../hub/subscription.js';

/**
 * Writes messages as wire JSON. A message fanned out to thousands of
 * subscribers is rendered once per channel, not once per subscriber.
 */
export class MessageRenderer {
  private readonly cache = new WeakMap<BrokerMessage, Map<string, string>>();

  messageJson(entry: BrokerEntry): string {
    let byChannel = this.cache.get(entry.message);
    if (!byChannel) {
      byChannel = new Map();
      this.cache.set(entry.message, byChannel);
    }
    let json = byChannel.get(entry.channel);
    if (json === undefined) {
      const { id, type, ts, dataJson } = entry.message;
      json = `{"id":${JSON.stringify(id)},"ch":${JSON.stringify(entry.channel)},"type":${JSON.stringify(type)},"ts":${ts},"data":${dataJson}}`;
      byChannel.set(entry.channel, json);
    }
    return json;
  }

  /** A poll answer: `{"c", "msg", "cursor"}` plus `gap` when set. `cursor` is the encoded positions after it. */
  pollBody(delivery: Delivery, cursor: string): string {
    const messages = delivery.entries.map((entry) => this.messageJson(entry)).join(',');
    const flags = delivery.gap ? ',"gap":true' : '';
    return `{"c":${delivery.entries.length},"msg":[${messages}],"cursor":${JSON.stringify(cursor)}${flags}}`;
  }

  /** An answer with nothing new (hold ended, superseded, shutting down); `extra` is appended as it is (`,"k":v`). */
  emptyBody(cursor: string, superseded = false, extra = ''): string {
    return `{"c":0,"msg":[],"cursor":${JSON.stringify(cursor)}${superseded ? ',"superseded":true' : ''}${extra}}`;
  }
}
