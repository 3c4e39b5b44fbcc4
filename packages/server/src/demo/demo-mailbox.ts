import { type DemoUser, encodeCursor, isMailData, type Mail, type MailData, newMailType, type StreamPosition } from '@pns/protocol';
import type { Broker } from '../broker/broker.js';
import type { PnsMetrics } from '../ops/metrics.js';
import { demoUserChannel } from './demo-users.js';

export interface Inbox {
  /** Newest first. */
  mails: Mail[];
  /** Where the user's channel stood after the last mail read: a client started here misses nothing and repeats nothing. */
  cursor: string;
}

/** The most pages an inbox read goes through (the channel's retention bounds it long before). */
const maxInboxPages = 100;
/** Read from a position no stream has: the broker starts at the oldest message it still holds. */
const fromOldest: StreamPosition = { epoch: '', offset: '' };

/**
 * The demo's mail store is pns itself: a mail is a type-70 message on the recipient's channel, kept as long
 * as pns retains messages. A real webmail keeps mail in its own store and publishes a notice like this one.
 */
export class DemoMailbox {
  constructor(
    private readonly broker: Broker,
    private readonly options: { pageLimit: number; ttlSeconds: number; metrics: PnsMetrics },
  ) {}

  async inbox(user: DemoUser): Promise<Inbox> {
    const channel = demoUserChannel(user);
    const mails: Mail[] = [];
    let position = fromOldest;
    for (let page = 0; page < maxInboxPages; page++) {
      const result = await this.broker.read(channel, position, this.options.pageLimit);
      for (const { message } of result.entries) {
        // Anyone with the publish key may send type 70 here: what is not a mail is not listed.
        const data: unknown = message.type === newMailType ? JSON.parse(message.dataJson) : undefined;
        if (isMailData(data)) mails.push({ id: message.id, ...data });
      }
      position = result.to;
      if (!result.more) break;
    }
    return { mails: mails.reverse(), cursor: encodeCursor(new Map([[channel, position]])) };
  }

  /** Publishes the mail to the recipient's channel; resolves with its id once stored. */
  async send(from: DemoUser, to: DemoUser, content: { subject: string; body: string }): Promise<string> {
    const data: MailData = { from, to: to.id, subject: content.subject, body: content.body, sentAt: Date.now() };
    const [outcome] = await this.broker.publish([
      {
        channels: [demoUserChannel(to)],
        type: newMailType,
        dataJson: JSON.stringify(data),
        ttlSeconds: this.options.ttlSeconds,
        id: undefined,
        scope: 'demo',
        fingerprint: '',
      },
    ]);
    this.options.metrics.published.inc();
    return outcome?.id as string;
  }
}
