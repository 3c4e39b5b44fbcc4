// One Redis command over a raw TCP connection (RESP2): for readiness checks and test setup without a client library.
import { createConnection } from 'node:net';

/** A reply: simple and bulk strings, integers, nil (null), arrays; an error inside an array is an Error. */
export type RedisReply = string | number | null | Error | RedisReply[];

function encode(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}

/** The reply starting at `at` and where it ends, or undefined while it is incomplete. */
function parse(buffer: Buffer, at: number): [RedisReply, number] | undefined {
  const eol = buffer.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buffer.toString('utf8', at + 1, eol);
  const next = eol + 2;
  switch (buffer[at]) {
    case 0x2b: // +
      return [line, next];
    case 0x2d: // -
      return [new Error(line), next];
    case 0x3a: // :
      return [Number(line), next];
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buffer.length < next + length + 2) return undefined;
      return [buffer.toString('utf8', next, next + length), next + length + 2];
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RedisReply[] = [];
      let position = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, position);
        if (item === undefined) return undefined;
        items.push(item[0]);
        position = item[1];
      }
      return [items, position];
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(buffer.toString('utf8', at, Math.min(buffer.length, at + 40)))}`);
  }
}

/**
 * Sends one command to 127.0.0.1:`port` on a connection of its own and resolves with the reply.
 * An error reply, a refused connection or no answer within `timeoutMs` rejects.
 */
export function redisCommand(port: number, args: readonly string[], timeoutMs = 2000): Promise<RedisReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`redis on port ${port} did not answer ${args[0]} within ${timeoutMs} ms`)));
    socket.on('error', fail);
    socket.on('close', () => fail(new Error(`redis on port ${port} closed the connection before answering ${args[0]}`)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      let parsed: [RedisReply, number] | undefined;
      try {
        parsed = parse(buffer, 0);
      } catch (error) {
        fail(error as Error);
        return;
      }
      if (parsed === undefined) return;
      socket.destroy();
      if (parsed[0] instanceof Error) reject(parsed[0]);
      else resolve(parsed[0]);
    });
    socket.write(encode(args));
  });
}
