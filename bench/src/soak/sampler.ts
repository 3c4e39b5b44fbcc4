/**
 * What the soak records every 5 s: the server's /metrics (connections, heap, event-loop lag, GC time),
 * its CPU time from /proc, and how busy its core was with other processes. The machine may be shared:
 * lag that comes with a busy core and an idle server is the neighbours', not pns's.
 */
import { now } from '../clock.js';
import { ProcessMeter } from '../measure.js';
import type { MetricsSnapshot, SoakServer } from './server.js';

const sampleEveryMs = 5000;

export interface Sample {
  /** Seconds since the ramp ended. */
  t: number;
  phase: 'warmup' | 'soak';
  held: Record<string, number>;
  open: number;
  heapUsed: number;
  rss: number;
  /** The window's (since the previous scrape) event-loop delay p99 and max, ms, as /metrics reports them. */
  lagP99Ms: number;
  lagMaxMs: number;
  /** Garbage collection in the window, ms (all kinds). */
  gcMs: number;
  /** The server's CPU in the window, and the rest of its core's (other processes), as shares of one core. */
  serverCpu: number;
  othersOnServerCpu: number;
}

interface Reading {
  at: number;
  gcSeconds: number;
  serverCpuMs: number;
  coreBusyMs: number;
}

/** `{label="x"} n` series of a metric as `{ x: n }`. */
export function labelled(metrics: MetricsSnapshot, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [labels, value] of metrics.family(name)) {
    const match = new RegExp(`${label}="([^"]*)"`).exec(labels);
    if (match?.[1] !== undefined) out[match[1]] = value;
  }
  return out;
}

/** Scrapes the server every 5 s into `samples`. */
export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private phase: Sample['phase'] = 'warmup';
  private pending: Promise<void> = Promise.resolve();
  private readonly meter = new ProcessMeter();
  private previous: Reading | undefined;

  constructor(
    private readonly server: SoakServer,
    private readonly serverCpu: number,
    private readonly samples: Sample[],
    private readonly origin: number,
  ) {}

  start(phase: Sample['phase']): void {
    this.phase = phase;
    this.timer = setInterval(() => {
      this.pending = this.take().catch(() => undefined);
    }, sampleEveryMs);
  }

  /** Stops, after one last sample (the end of the phase). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.pending;
    await this.take();
  }

  /** Starts the next window here: the scrape resets the server's event-loop histogram too. */
  async restart(): Promise<void> {
    this.previous = this.read(await this.server.metrics());
  }

  private read(metrics: MetricsSnapshot): Reading {
    let gcSeconds = 0;
    for (const [labels, value] of metrics.family('nodejs_gc_duration_seconds_sum')) if (labels.startsWith('{')) gcSeconds += value;
    return { at: now(), gcSeconds, serverCpuMs: this.meter.cpuMs(this.server.pid), coreBusyMs: this.meter.coreBusyMs(this.serverCpu) };
  }

  private async take(): Promise<void> {
    const metrics = await this.server.metrics();
    const reading = this.read(metrics);
    const previous = this.previous ?? reading;
    this.previous = reading;
    const ms = Math.max(1, reading.at - previous.at);
    const serverMs = reading.serverCpuMs - previous.serverCpuMs;
    this.samples.push({
      t: Math.round((reading.at - this.origin) / 100) / 10,
      phase: this.phase,
      held: labelled(metrics, 'pns_held_connections', 'transport'),
      open: metrics.get('pns_open_connections') ?? 0,
      heapUsed: metrics.get('nodejs_heap_size_used_bytes') ?? 0,
      rss: metrics.get('process_resident_memory_bytes') ?? 0,
      lagP99Ms: (metrics.get('nodejs_eventloop_lag_p99_seconds') ?? 0) * 1000,
      lagMaxMs: (metrics.get('nodejs_eventloop_lag_max_seconds') ?? 0) * 1000,
      gcMs: Math.round((reading.gcSeconds - previous.gcSeconds) * 1000),
      serverCpu: round(serverMs / ms),
      othersOnServerCpu: round(Math.max(0, reading.coreBusyMs - previous.coreBusyMs - serverMs) / ms),
    });
  }
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
