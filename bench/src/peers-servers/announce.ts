import type { Server } from 'node:http';

/**
 * For peer server scripts: listens, prints `{"port": …}` (what the driver's
 * startNodePeer waits for), and on SIGTERM/SIGINT closes the peer and exits.
 */
export function listenAndAnnounce(httpServer: Server, port: number, host: string, closePeer: () => void): void {
  httpServer.listen({ port, host, backlog: 4096 }, () => {
    const address = httpServer.address();
    const bound = typeof address === 'object' && address !== null ? address.port : 0;
    process.stdout.write(`${JSON.stringify({ port: bound })}\n`);
  });
  const shutdown = (): void => {
    closePeer();
    httpServer.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
