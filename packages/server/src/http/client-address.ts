import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';

/**
 * The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address in
 * `X-Forwarded-For` that is not a trusted proxy. Without trusted proxies the header is ignored, since any
 * client can send it.
 */
export function clientAddressOf(trustedProxies: readonly string[]): (request: IncomingMessage) => string {
  if (trustedProxies.length === 0) return (request) => request.socket.remoteAddress ?? '';
  const trust = proxyAddr.compile([...trustedProxies]);
  return (request) => proxyAddr(request, trust);
}
