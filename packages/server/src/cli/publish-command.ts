import { parseArgs } from 'node:util';
import { createPublisher, PublishError } from '@pns/publisher';
import { type CommandIo, UsageError } from './usage.js';

export const publishHelp = `Usage: pns publish --to user:42[,topic:news] --type 70 [--data '{"subject":"hi"}'] [--id <id>] [--ttl 600] [--url http://127.0.0.1:7070] [--publish-key <key>]

Publishes one message through the HTTP API and prints its id.
  --to           recipients: user:<id> or topic:<name>, comma-separated
  --type         message type: a number (e.g. 70) or a string
  --data         message data as JSON (default null)
  --id           your message id (makes a repeat idempotent; generated when absent)
  --ttl          seconds to keep it for clients not connected now
  --url          server URL (default: PNS_URL, or http://127.0.0.1:<PNS_PORT or 7070>)
  --publish-key  publish key (default: PNS_PUBLISH_KEY)
`;

export async function publishCommand(args: string[], io: CommandIo): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        to: { type: 'string' },
        type: { type: 'string' },
        data: { type: 'string' },
        id: { type: 'string' },
        ttl: { type: 'string' },
        url: { type: 'string' },
        'publish-key': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    io.out(publishHelp);
    return;
  }
  const publishKey = (values['publish-key'] as string | undefined) ?? io.env.PNS_PUBLISH_KEY;
  if (!values.to) throw new UsageError('--to is required');
  if (values.type === undefined || values.type === '') throw new UsageError('--type is required');
  if (!publishKey) throw new UsageError('no publish key: set PNS_PUBLISH_KEY or pass --publish-key');
  let data: unknown = null;
  if (typeof values.data === 'string') {
    try {
      data = JSON.parse(values.data);
    } catch {
      throw new UsageError('--data must be JSON');
    }
  }
  const typeText = values.type as string;
  const type = /^-?[0-9]+(\.[0-9]+)?$/.test(typeText) ? Number(typeText) : typeText;
  let ttl: number | undefined;
  if (values.ttl !== undefined) {
    ttl = Number(values.ttl);
    if (!Number.isInteger(ttl) || ttl < 1) throw new UsageError('--ttl must be a whole number of seconds');
  }
  const url = (values.url as string | undefined) ?? io.env.PNS_URL ?? `http://127.0.0.1:${io.env.PNS_PORT ?? '7070'}`;
  const to = (values.to as string).split(',').filter((c) => c.length > 0);
  const publisher = createPublisher({ url, publishKey, retries: 2 });
  try {
    const id = await publisher.publish(to.length === 1 ? (to[0] as string) : to, type, data, {
      ...(values.id === undefined ? {} : { id: values.id as string }),
      ...(ttl === undefined ? {} : { ttl }),
    });
    io.out(`${id}\n`);
  } catch (error) {
    if (error instanceof PublishError) throw new UsageError(`${error.code}: ${error.message}`);
    throw error;
  }
}
