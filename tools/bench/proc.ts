// Resource readings from /proc (Linux): a process's RSS and CPU time, and the machine's CPU use, so a figure can be
// judged by what it cost and by how busy the machine was.

import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** VmRSS of `pid` in bytes, or undefined when the process (or /proc) is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/**
 * User + system CPU time of `pid` in ms (its threads included), or undefined when unreadable. `withReaped` adds the
 * time of its children that have exited and been waited for (PostgreSQL backends that closed).
 */
export function cpuMs(pid: number, withReaped = false): number | undefined {
  const fields = statFields(pid);
  if (fields === undefined) return undefined;
  // Fields 14–17 of proc(5): utime, stime, cutime, cstime.
  const own = Number(fields[11]) + Number(fields[12]);
  const reaped = withReaped ? Number(fields[13]) + Number(fields[14]) : 0;
  return ((own + reaped) * 1000) / ticksPerSecond();
}

/** The parent pid of `pid`, or undefined. */
export function parentPid(pid: number): number | undefined {
  const ppid = Number(statFields(pid)?.[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** /proc/<pid>/stat from field 3 on (index 0 = state). The command name may hold blanks and parentheses. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU ms of a process, its live children and its exited ones (PostgreSQL's postmaster and its backends). */
export function processTreeCpuMs(pid: number): number | undefined {
  const own = cpuMs(pid, true);
  if (own === undefined) return undefined;
  let total = own;
  for (const child of childPids(pid)) total += cpuMs(child) ?? 0;
  return total;
}

/** The live direct children of `pid`. */
function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = Number(entry);
    if (parentPid(child) === pid) children.push(child);
  }
  return children;
}

/** `pid` and its live direct children (a cluster-mode gateway's workers). */
export function processTreePids(pid: number): number[] {
  return [pid, ...childPids(pid)];
}

/** Machine-wide CPU counters (all cores), in ms. */
export interface MachineCpu {
  busyMs: number;
  totalMs: number;
}

export function machineCpu(): MachineCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const scale = 1000 / ticksPerSecond();
    return { busyMs: (total - idle) * scale, totalMs: total * scale };
  } catch {
    return undefined;
  }
}

/** Samples the summed RSS of processes (fixed at the start) every `everyMs` until stopped; peak and mean in bytes. */
export class RssSampler {
  private peak = 0;
  private sum = 0;
  private n = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pids: readonly number[],
    everyMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  stop(): { peakBytes: number; meanBytes: number } | undefined {
    clearInterval(this.timer);
    this.sample();
    return this.n === 0 ? undefined : { peakBytes: this.peak, meanBytes: this.sum / this.n };
  }

  private sample(): void {
    let rss: number | undefined;
    for (const pid of this.pids) {
      const one = rssBytes(pid);
      if (one !== undefined) rss = (rss ?? 0) + one;
    }
    if (rss === undefined) return;
    this.peak = Math.max(this.peak, rss);
    this.sum += rss;
    this.n++;
  }
}

/**
 * The kernel's TCP listen-queue overflows and SYN retransmissions so far (this network namespace, all processes). A
 * burst of connections that a busy server does not accept fast enough overflows its backlog; the client's SYN is then
 * retried after 1, 3, 7, 15 s, which shows up as TTFT outliers of about those sizes.
 */
export function tcpListenCounters(): { listenOverflows: number; synRetrans: number } | undefined {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'));
    const names = lines[i]?.split(/\s+/) ?? [];
    const values = lines[i + 1]?.split(/\s+/) ?? [];
    const get = (name: string): number => Number(values[names.indexOf(name)] ?? 0);
    return i === -1 ? undefined : { listenOverflows: get('ListenOverflows'), synRetrans: get('TCPSynRetrans') };
  } catch {
    return undefined;
  }
}
