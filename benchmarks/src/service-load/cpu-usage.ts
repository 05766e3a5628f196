/** CPU accounting from /proc: per process (utime + stime + children), and for the whole machine. */
import { readdirSync, readFileSync } from 'node:fs';

export const HZ = 100; // USER_HZ on Linux
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime stime cutime cstime: fields 14-17 (f[11..14] after pid and comm)
    return Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  } catch {
    return undefined;
  }
}
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}
/** The postmaster of the test server (its command line has `-p <port>`) and its children. */
export function postgresPids(port: number): number[] {
  const pids = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
  const master = pids.find((p) => {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      return cmd[0]?.endsWith('postgres') && cmd.includes(`-p`) && cmd[cmd.indexOf('-p') + 1] === String(port);
    } catch {
      return false;
    }
  });
  if (master === undefined) return [];
  return [master, ...pids.filter((p) => parentOf(p) === master)];
}

/** Whole machine, from /proc/stat: busy and softirq (the loopback network) ticks. */
export function machineTicks(): { busy: number; softirq: number } {
  // user nice system idle iowait irq softirq steal ...
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return { busy: user + nice + system + irq + softirq + steal, softirq };
}

export type CpuSnapshot = Map<number, number>;
export function snapshot(pids: number[]): CpuSnapshot {
  const m = new Map<number, number>();
  for (const p of pids) {
    const t = cpuTicks(p);
    if (t !== undefined) m.set(p, t);
  }
  return m;
}
/**
 * CPU seconds between two snapshots. A process gone at the end: its last known value from `last`
 * (the killed instance); else it was reaped by a parent in the set (a Postgres backend), whose
 * cutime/cstime took its whole lifetime, so what it had used before the window comes off.
 */
export function cpuSeconds(a: CpuSnapshot, b: CpuSnapshot, last?: CpuSnapshot): number {
  let ticks = 0;
  for (const [p, t] of b) ticks += t - (a.get(p) ?? 0);
  for (const [p, t] of a) if (!b.has(p)) ticks += last?.has(p) ? last.get(p)! - t : -t;
  return ticks / HZ;
}
