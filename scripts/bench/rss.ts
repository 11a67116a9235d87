/** Samples the resident set size (VmRSS in /proc/<pid>/status) and CPU time of a process. Linux only. */
import fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Reads user plus system CPU time of `pid` in seconds, or undefined when the process is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Reads the busy CPU time of all cores together from /proc/stat, in seconds (idle and iowait excluded). */
export function readMachineBusySeconds(): number {
  try {
    const [, ...fields] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const ticks = fields.map(Number);
    const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const idle = ticks[3] + ticks[4];
    return (total - idle) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** CPU seconds spent in one span of the run, split by who spent them. */
export interface CpuShare {
  wallSeconds: number;
  service: number;
  /** The benchmark process: autocannon and the stand-ins. */
  bench: number;
  /** Every other process on the machine, such as tests that others run at the same time. */
  other: number;
}

/**
 * Measures CPU time of the service, of this process and of the rest of the machine from now on. With
 * several service instances, `service` is their sum.
 */
export class CpuAccount {
  private readonly startedAt = Date.now();
  private readonly servicePids: number[];
  private readonly service: number;
  private readonly bench = process.cpuUsage();
  private readonly machine = readMachineBusySeconds();

  constructor(servicePids: number | number[]) {
    this.servicePids = Array.isArray(servicePids) ? servicePids : [servicePids];
    this.service = this.serviceSeconds();
  }

  private serviceSeconds(): number {
    return this.servicePids.reduce((sum, pid) => sum + (readCpuSeconds(pid) ?? NaN), 0);
  }

  /** Returns the CPU seconds since construction. Call it while the services still run. */
  read(): CpuShare {
    const service = this.serviceSeconds() - this.service;
    const benchUsage = process.cpuUsage(this.bench);
    const bench = (benchUsage.user + benchUsage.system) / 1e6;
    const busy = readMachineBusySeconds() - this.machine;
    return { wallSeconds: (Date.now() - this.startedAt) / 1000, service, bench, other: Math.max(0, busy - service - bench) };
  }
}

export interface RssSample {
  at: number;
  mb: number;
}

/** Reads VmRSS of `pid` in MB, or undefined when the process is gone. */
export function readRssMb(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

export class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 500) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const mb = readRssMb(this.pid);
    if (mb !== undefined) this.samples.push({ at: Date.now(), mb });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  peakMb(): number {
    return Math.max(0, ...this.samples.map(sample => sample.mb));
  }

  /** Returns the highest RSS in each quarter of [from, to], in MB, and 0 for a quarter without samples. */
  peakByQuarter(from: number, to: number): number[] {
    const quarter = (to - from) / 4;
    return [0, 1, 2, 3].map(index => {
      const start = from + index * quarter;
      const end = index === 3 ? to + 1 : start + quarter;
      const inside = this.samples.filter(sample => sample.at >= start && sample.at < end).map(sample => sample.mb);
      return inside.length ? Math.max(...inside) : 0;
    });
  }
}
