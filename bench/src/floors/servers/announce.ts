import type { Server } from 'node:net';

/**
 * For the floors' server modules: listens on 127.0.0.1 (any free port, the backlog pns uses), prints
 * `{"port": …}` (what server-process.ts waits for), and exits on SIGTERM, SIGINT or when stdin closes,
 * so a server never outlives the tool, even one killed with SIGKILL.
 */
export function listenAndAnnounce(server: Server): void {
  server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
    const address = server.address();
    process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
  });
  const exit = (): never => process.exit(0);
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
  process.stdin.on('end', exit).on('error', exit).resume();
}
