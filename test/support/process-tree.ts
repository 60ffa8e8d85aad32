/** The processes below a process, read from /proc (Linux): what a server started, and its cost. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessEntry {
  pid: number;
  parent: number;
  /** The command line, its arguments joined by spaces. */
  command: string;
  /** CPU time used so far (user + system), in clock ticks. */
  ticks: number;
}

function readProcess(pid: number): ProcessEntry | undefined {
  try {
    // After the command name (which may hold spaces): state, ppid, ... utime (14th), stime (15th).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return {
      pid,
      parent: Number(fields[1]),
      command,
      ticks: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return undefined; // It ended while the list was read.
  }
}

/** `root` and every process below it. */
export function processTree(root: number): ProcessEntry[] {
  const all = new Map<number, ProcessEntry>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const found = readProcess(Number(entry));
    if (found) all.set(found.pid, found);
  }
  const inTree = (pid: number): boolean => {
    for (let at: number | undefined = pid; at !== undefined && at > 1; at = all.get(at)?.parent)
      if (at === root) return true;
    return false;
  };
  return [...all.values()].filter((entry) => inTree(entry.pid));
}
