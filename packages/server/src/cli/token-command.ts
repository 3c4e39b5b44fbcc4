import { parseArgs } from 'node:util';
import { createToken } from '@pns/publisher';
import { type CommandIo, UsageError } from './usage.js';

export const tokenHelp = `Usage: pns token --user <id> [--topics news,ops] [--ttl 1h] [--secret <secret>] [--issuer <iss>] [--audience <aud>]

Prints a session token (the \`sid\` a browser polls with) for a user.
  --user      user id (the token's sub); the session listens to user:<id>
  --topics    comma-separated topic names the session may listen to
  --ttl       lifetime: seconds or 90s, 15m, 1h, 7d (default 1h)
  --secret    token secret (default: PNS_SECRET)
  --issuer    the token's iss (default: PNS_JWT_ISSUER)
  --audience  the token's aud (default: PNS_JWT_AUDIENCE)
`;

export async function tokenCommand(args: string[], io: CommandIo): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        user: { type: 'string' },
        topics: { type: 'string' },
        ttl: { type: 'string' },
        secret: { type: 'string' },
        issuer: { type: 'string' },
        audience: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    io.out(tokenHelp);
    return;
  }
  // PNS_SECRET may list several secrets (rotation): the first one signs.
  const secret = ((values.secret as string | undefined) ?? io.env.PNS_SECRET)?.split(',')[0]?.trim();
  if (!values.user) throw new UsageError('--user is required');
  if (!secret) throw new UsageError('no secret: set PNS_SECRET or pass --secret');
  const topics = typeof values.topics === 'string' ? values.topics.split(',').filter((t) => t.length > 0) : [];
  try {
    // The server's own settings by default, so its tokens pass a server that checks `iss` and `aud`.
    const issuer = (values.issuer as string | undefined) ?? (io.env.PNS_JWT_ISSUER || undefined);
    const audience = (values.audience as string | undefined) ?? (io.env.PNS_JWT_AUDIENCE || undefined);
    const ttl = (values.ttl as string | undefined) ?? '1h';
    io.out(`${await createToken({ secret, issuer, audience, user: values.user as string, topics, ttl })}\n`);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
