// A proxy in front of pns that behaves like the networks that break push transports: it can refuse WebSocket
// upgrades (as many corporate proxies do) and buffer whole responses before sending any of them (which breaks
// SSE streaming). Its behaviour can change while clients are connected, and it can cut every connection at once.
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RunningServer } from './browser.js';

export interface ProxyBehaviour {
  /** `refuse`: every upgrade is answered 403 and closed. */
  upgrades: 'pass' | 'refuse';
  /** Hold each answer until it is complete, then send it whole (headers included). */
  buffer: boolean;
  /** Cut each WebSocket this long after its upgrade (a middlebox that kills long connections). */
  cutUpgradesAfterMs?: number;
}

/** What went through the proxy, by pns path (`/pns/poll`, `/pns/sse`, `/pns/ws`). */
export interface ProxyCounts {
  polls: number;
  sse: number;
  upgrades: number;
  refusedUpgrades: number;
}

export interface TransportProxy extends RunningServer {
  behaviour: ProxyBehaviour;
  readonly counts: ProxyCounts;
  /** Cuts every connection open through the proxy (held polls, streams, WebSockets). */
  cutAll(): void;
  /**
   * Stops carrying data on every open WebSocket, both ways, and keeps the page's side open whatever pns does: a
   * path that died without a close reaching the page (a NAT timeout, a network handover).
   */
  freezeUpgrades(): void;
}

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade']);

export async function startTransportProxy(target: string, behaviour: ProxyBehaviour): Promise<TransportProxy> {
  const targetUrl = new URL(target);
  const counts: ProxyCounts = { polls: 0, sse: 0, upgrades: 0, refusedUpgrades: 0 };
  const open = new Set<Duplex>();
  const tunnels = new Set<{ socket: Socket; upstream: Socket; frozen: boolean }>();
  const track = (socket: Duplex): void => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  };

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/pns/poll') counts.polls++;
    if (path === '/pns/sse') counts.sse++;
    const buffer = proxy.behaviour.buffer;
    const upstream = request(
      `${target}${req.url}`,
      { method: req.method, headers: { ...req.headers, host: targetUrl.host }, agent: false },
      (answer) => {
        const headers: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined && !hopByHop.has(name)) headers[name] = value;
        if (!buffer) {
          res.writeHead(answer.statusCode ?? 502, headers);
          res.flushHeaders();
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          res.writeHead(answer.statusCode ?? 502, headers);
          res.end(Buffer.concat(chunks));
        });
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  };

  const server = createServer(forward);
  server.on('connection', track);
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    counts.upgrades++;
    if (proxy.behaviour.upgrades === 'refuse') {
      counts.refusedUpgrades++;
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream = connect(Number(targetUrl.port), targetUrl.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    track(upstream);
    const tunnel = { socket, upstream, frozen: false };
    tunnels.add(tunnel);
    const cut = (): void => {
      tunnels.delete(tunnel);
      upstream.destroy();
      if (!tunnel.frozen) socket.destroy();
    };
    if (proxy.behaviour.cutUpgradesAfterMs !== undefined) setTimeout(cut, proxy.behaviour.cutUpgradesAfterMs);
    upstream.on('error', cut);
    socket.on('error', cut);
    upstream.on('close', cut);
    socket.on('close', cut);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const cutAll = (): void => {
    for (const socket of open) socket.destroy();
    server.closeAllConnections();
  };
  const proxy: TransportProxy = {
    url,
    origin: url,
    behaviour: { ...behaviour },
    counts,
    cutAll,
    freezeUpgrades: () => {
      for (const tunnel of tunnels) {
        tunnel.frozen = true;
        tunnel.upstream.unpipe(tunnel.socket);
        tunnel.socket.unpipe(tunnel.upstream);
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        cutAll();
      }),
  };
  return proxy;
}
