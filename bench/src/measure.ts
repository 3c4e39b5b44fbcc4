import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK; 100 on Linux in practice). */
function readClockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

export class ProcessMeter {
  private readonly msPerTick = 1000 / readClockTicks();

  /** Resident set size in bytes (VmRSS of /proc/<pid>/status); 0 when the process is gone. */
  rssBytes(pid: number): number {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : 0;
    } catch {
      return 0;
    }
  }

  /** CPU time (user + system, all threads) in ms; 0 when the process is gone. */
  cpuMs(pid: number): number {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: count fields after its closing parenthesis.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 (utime, stime) are the 12th and 13th after the name.
      return (Number(fields[11]) + Number(fields[12])) * this.msPerTick;
    } catch {
      return 0;
    }
  }

  /** Busy time of one CPU since boot, ms (/proc/stat, in the same ticks: everything but idle and iowait); 0 when unreadable. */
  coreBusyMs(cpu: number): number {
    try {
      const line = readFileSync('/proc/stat', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`cpu${cpu} `));
      const ticks = (line ?? '').trim().split(/\s+/).slice(1).map(Number);
      const total = ticks.reduce((a, b) => a + b, 0);
      return (total - (ticks[3] ?? 0) - (ticks[4] ?? 0)) * this.msPerTick;
    } catch {
      return 0;
    }
  }

  /** Summed over several processes (a multi-process target). */
  totalRssBytes(pids: readonly number[]): number {
    return pids.reduce((sum, pid) => sum + this.rssBytes(pid), 0);
  }

  totalCpuMs(pids: readonly number[]): number {
    return pids.reduce((sum, pid) => sum + this.cpuMs(pid), 0);
  }
}

/** The CPUs a process may run on, as `taskset` lists them (Cpus_allowed_list), or undefined. */
export function allowedCpus(pid: number | 'self'): string | undefined {
  try {
    return /^Cpus_allowed_list:\s+(\S+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export interface Percentiles {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}

/** The nearest-rank `p`th percentile of sorted values, or null when there are none. */
function rank(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** Nearest-rank percentiles of a list of values (latencies in ms). */
export function percentiles(values: ArrayLike<number>): Percentiles {
  const sorted = Float64Array.from(values).sort();
  return { count: sorted.length, p50: rank(sorted, 50), p95: rank(sorted, 95), p99: rank(sorted, 99), max: rank(sorted, 100) };
}

/**
 * The distribution of a list of values: the nearest-rank percentiles 0, 1, …, 100
 * (101 values, the first is the minimum), each rounded to 0.1; empty when there are none.
 */
export function percentileCurve(values: ArrayLike<number>): number[] {
  const sorted = Float64Array.from(values).sort();
  if (sorted.length === 0) return [];
  return Array.from({ length: 101 }, (_, p) => Math.round((rank(sorted, p) as number) * 10) / 10);
}
