import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Process and machine figures from Linux `/proc`: CPU time and resident memory of the
 * processes under test, measured from outside so the measurement costs them nothing.
 */

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      ticksPerSecond = 100;
    }
    if (!Number.isFinite(ticksPerSecond) || ticksPerSecond <= 0) ticksPerSecond = 100;
  }
  return ticksPerSecond;
}

/** User + system CPU time of a process in milliseconds, or NaN when it cannot be read. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may contain spaces and parentheses: fields start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / clockTicks();
  } catch {
    return NaN;
  }
}

/** Resident set size of a process in bytes (VmRSS), or NaN. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m?.[1] === undefined ? NaN : Number(m[1]) * 1024;
  } catch {
    return NaN;
  }
}

/** This process's own CPU time in milliseconds. */
export function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
export function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const n = line.trim().split(/\s+/).slice(1).map(Number);
    const total = n.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const idle = (n[3] ?? 0) + (n[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: NaN, total: NaN };
  }
}

/** Total size in bytes of the files under a directory (the SQLite file, WAL and SHM). */
export function dirBytes(dir: string): number {
  let sum = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return NaN;
  }
  for (const name of entries) {
    try {
      const st = statSync(join(dir, name));
      sum += st.isDirectory() ? dirBytes(join(dir, name)) : st.size;
    } catch {
      // a file removed while we looked (a WAL checkpoint) is simply not counted
    }
  }
  return sum;
}

/** CPU time of several processes at once, to take the difference over a window. */
export interface CpuSnapshot {
  readonly at: number;
  readonly byName: Record<string, number>;
  readonly own: number;
  readonly machine: { busy: number; total: number };
}

/** Takes a snapshot of the named processes' CPU time, this process's, and the machine's. */
export function cpuSnapshot(pids: Record<string, number>): CpuSnapshot {
  const byName: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) byName[name] = cpuMs(pid);
  return { at: performance.now(), byName, own: ownCpuMs(), machine: machineTicks() };
}

/** CPU used between two snapshots: per process and own in ms, machine busy as a share. */
export interface CpuDelta {
  readonly wallMs: number;
  readonly byName: Record<string, number>;
  readonly ownMs: number;
  /** Share of all cores that were busy, 0..1. */
  readonly machineBusy: number;
}

export function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): CpuDelta {
  const byName: Record<string, number> = {};
  for (const name of Object.keys(b.byName)) {
    byName[name] = (b.byName[name] ?? NaN) - (a.byName[name] ?? NaN);
  }
  const total = b.machine.total - a.machine.total;
  return {
    wallMs: b.at - a.at,
    byName,
    ownMs: b.own - a.own,
    machineBusy: total > 0 ? (b.machine.busy - a.machine.busy) / total : NaN,
  };
}

/**
 * Share of the machine (0..1 of all cores) used by processes other than the ones measured
 * and this one: on a shared machine this says how much a result was disturbed.
 */
export function foreignShare(delta: CpuDelta, cores: number): number {
  let ours = delta.ownMs;
  for (const ms of Object.values(delta.byName)) ours += Number.isFinite(ms) ? ms : 0;
  const capacity = cores * delta.wallMs;
  if (!(capacity > 0) || !Number.isFinite(delta.machineBusy)) return NaN;
  return Math.max(0, delta.machineBusy - ours / capacity);
}

/** Machine busy share over `ms`, measured before the benchmark starts. */
export async function machineBusyOver(ms: number): Promise<number> {
  const a = machineTicks();
  await new Promise((r) => setTimeout(r, ms));
  const b = machineTicks();
  const total = b.total - a.total;
  return total > 0 ? (b.busy - a.busy) / total : NaN;
}
