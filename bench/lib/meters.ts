/** What the bench reads about processes and the machine: /proc, the server's /metrics, git. */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import path from 'node:path';
import { sleep } from './processes.js';
import { CORES, ROOT } from './options.js';
import type { CpuUse, MachineFacts, MemorySample } from './types.js';

export function procStatus(pid: number): MemorySample {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, anonMb: kb('RssAnon') / 1024, fileMb: kb('RssFile') / 1024 };
}

/** The V8 heap (total reserved, used) as the server's own /metrics reports it, in MB. */
export async function serverHeap(url: string): Promise<Partial<MemorySample>> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const gauge = (name: string) => Number(new RegExp(`^gatehouse_nodejs_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20;
    return { heapTotalMb: gauge('heap_size_total_bytes'), heapUsedMb: gauge('heap_size_used_bytes'), externalMb: gauge('external_memory_bytes') };
  } catch {
    return {};
  }
}

/** The server's memory now: RSS from /proc and the V8 heap from /metrics. */
export async function memory(pid: number, url: string): Promise<MemorySample> {
  return { ...procStatus(pid), ...(await serverHeap(url)) };
}

/** CPU seconds (user + system, all threads) the process has used so far. */
export function procCpuSeconds(pid: number | string): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (CLK_TCK 100)
}

/** Waits (at most 15 s) until the process uses under 5 % of a core over 0.5 s; returns the wait in ms. */
export async function waitIdle(pid: number): Promise<number> {
  const t0 = Date.now();
  let last = procCpuSeconds(pid);
  while (Date.now() - t0 < 15000) {
    await sleep(500);
    const now = procCpuSeconds(pid);
    if (now - last < 0.025) break;
    last = now;
  }
  return Date.now() - t0;
}

function machineTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** CPU seconds used so far by each PostgreSQL and Redis server process (only when `withDb`). */
function dbCpu(withDb: boolean): Map<string, number> {
  const out = new Map<string, number>();
  if (!withDb) return out;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const comm = readFileSync(`/proc/${d}/comm`, 'utf8').trim();
      if (comm === 'postgres' || comm.startsWith('redis-server')) out.set(d, procCpuSeconds(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

/**
 * Starts measuring the process's, the databases' (withDb: PostgreSQL and Redis) and the
 * whole machine's CPU; the function it returns gives the cores each used since.
 */
export function cpuMeter(pid: number, withDb: boolean): () => CpuUse {
  const s0 = procCpuSeconds(pid);
  const d0 = dbCpu(withDb);
  const m0 = machineTicks();
  const w0 = Date.now();
  return () => {
    const wall = (Date.now() - w0) / 1000;
    const m1 = machineTicks();
    let db = 0;
    for (const [p, c] of dbCpu(withDb)) db += c - (d0.get(p) ?? 0);
    const serverSeconds = procCpuSeconds(pid) - s0;
    return {
      serverCores: serverSeconds / wall,
      serverSeconds,
      ...(withDb ? { dbCores: db / wall } : {}),
      machineCores: ((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * CORES,
    };
  };
}

/** Share of the machine's CPU time that was busy over `ms` (from /proc/stat). */
export async function machineBusy(ms: number): Promise<number> {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

/** The machine, and the commit of `serverRoot` (the checkout whose build is measured). */
export function machineFacts(serverRoot = ROOT): MachineFacts {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) model = m[1]!.trim();
  } catch {
    /* not Linux */
  }
  let git = 'unknown';
  let dirty = '';
  try {
    git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: serverRoot, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], { cwd: serverRoot, encoding: 'utf8' }).trim();
    if (status) dirty = ` (src/ had uncommitted changes: ${status.split('\n').length} files)`;
  } catch {
    /* no git */
  }
  const acVersion = (JSON.parse(readFileSync(path.join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')) as { version: string }).version;
  return {
    cores: CORES,
    model,
    memGb: totalmem() / 2 ** 30,
    node: process.version,
    kernel: release(),
    date: new Date().toISOString(),
    git: git + dirty,
    autocannon: acVersion,
  };
}
