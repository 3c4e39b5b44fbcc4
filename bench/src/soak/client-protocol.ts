/** Messages between the soak driver and its client processes (client-process.ts), over IPC. */
import type { Deliveries, Fatal } from '../loadgen-protocol.js';

export type Transport = 'longpoll' | 'sse' | 'websocket';

/** One client to open: user `u<u>` with its session token, on its transport, resuming from `cursor` when given. */
export interface JoinOrder {
  u: number;
  sid: string;
  transport: Transport;
  cursor?: string;
}

export type ToClients =
  | { t: 'init'; serverUrl: string; holdSeconds: number; repollDelayMs: number; joinConcurrency: number }
  | { t: 'join'; clients: JoinOrder[] }
  | { t: 'leave'; users: number[] }
  | { t: 'leaveAll' }
  | { t: 'stats'; req: number }
  | { t: 'close' };

/** Times are ms on the machine-wide monotonic clock (clock.ts), comparable with the driver's. */
export type FromClients =
  | { t: 'ready'; cpus: string | undefined }
  /** `startedAt`: before its first request; `establishedAt`: once the server held its position (first answer, `live`, first frame). */
  | { t: 'joined'; u: number; startedAt: number; establishedAt: number }
  | { t: 'joinFailed'; u: number; startedAt: number; error: string }
  /** `at`: when its connection was closed; `cursor`: where it stood then (undefined if it never had one). */
  | { t: 'left'; u: number; at: number; cursor: string | undefined }
  /** Messages received; `s` is the user's number. */
  | ({ t: 'd' } & Deliveries)
  | { t: 'stats'; req: number; open: number; joining: number; cpuMs: number; errors: Record<string, number> }
  | Fatal
  | { t: 'closed' };
