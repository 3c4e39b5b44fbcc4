// A TCP load balancer for tests of several pns nodes: round-robin over backends, skipping one that refuses
// the connection (a killed node), as a real balancer does after its health check fails. No stickiness.
// With one backend it is a link that a test can cut (a network partition) and heal. It can also cut
// connections after some bytes of the backend's answer (a proxy dropping connections mid-response).
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpBalancer {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Connections handed to each backend port so far. */
  counts(): ReadonlyMap<number, number>;
  /** Connections cut by `cutAfterBytes` so far. */
  cuts(): number;
  /** A network partition: every open connection is cut, and new ones are reset, until `heal()`. */
  cut(): void;
  heal(): void;
  close(): Promise<void>;
}

export interface TcpBalancerOptions {
  /**
   * Called for each connection: after how many bytes from the backend to cut it (both sides, mid-response),
   * or undefined to leave it whole. The bytes past that point are never forwarded to the client.
   */
  cutAfterBytes?: () => number | undefined;
}

/** Listens on a free loopback port and forwards each connection to the next backend that accepts it. */
export async function startTcpBalancer(backendPorts: readonly number[], options: TcpBalancerOptions = {}): Promise<TcpBalancer> {
  let next = 0;
  const counts = new Map<number, number>(backendPorts.map((port) => [port, 0]));
  const sockets = new Set<Socket>();
  let partitioned = false;
  let cuts = 0;
  const server: Server = createServer((client) => {
    if (partitioned) {
      client.resetAndDestroy();
      return;
    }
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.pause();
    const tryBackend = (attempt: number): void => {
      if (attempt >= backendPorts.length) {
        client.destroy();
        return;
      }
      const port = backendPorts[next++ % backendPorts.length] as number;
      const upstream = connect({ host: '127.0.0.1', port });
      let connected = false;
      upstream.once('error', () => {
        if (connected) client.destroy();
        else tryBackend(attempt + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        counts.set(port, (counts.get(port) ?? 0) + 1);
        sockets.add(upstream);
        upstream.once('close', () => sockets.delete(upstream));
        client.on('error', () => upstream.destroy());
        // A backend that dies resets its clients: they see what a balancer in front of a dead node shows.
        upstream.once('close', () => client.destroy());
        client.once('close', () => upstream.destroy());
        client.pipe(upstream);
        const cutAt = options.cutAfterBytes?.();
        if (cutAt === undefined) upstream.pipe(client);
        else {
          let forwarded = 0;
          let cut = false;
          upstream.on('end', () => client.end());
          upstream.on('data', (chunk: Buffer) => {
            if (cut) return; // the rest is dropped
            const room = cutAt - forwarded;
            forwarded += chunk.length;
            if (chunk.length < room) {
              client.write(chunk);
              return;
            }
            cut = true;
            // A clean end after part of an answer, as a proxy that gives up on its upstream sends; the upstream
            // is dropped once that part is out (its close then closes the client).
            cuts++;
            upstream.pause();
            client.end(chunk.subarray(0, room), () => upstream.destroy());
          });
        }
        client.resume();
      });
    };
    tryBackend(0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counts: () => counts,
    cuts: () => cuts,
    cut: () => {
      partitioned = true;
      for (const socket of sockets) socket.resetAndDestroy();
    },
    heal: () => {
      partitioned = false;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
