#!/usr/bin/env -S node --import tsx
// Refresh rotations on SQLite at scale (issue 19, item 10), without HTTP: a copy of a large
// database (bench/lib/large-data.ts: 200 000 users, 1 000 000 sessions, ...; built once and
// kept with --db), the stores opened as the server opens them (background checkpoints on),
// 1 000 sessions of its own, then N rotations with K in flight through SessionStore.rotate,
// as the refresh grant does them.
//
// It reports what survives a loaded machine: the main thread's CPU per rotation (from
// /proc/self/task/<pid>/stat, the event loop's thread alone) and the other threads' (the
// checkpointer), the WAL's growth (its largest size) and restarts (the header's checkpoint
// sequence), how long each batch's write transaction held the event loop (wall time less
// the time the thread waited for a core, from schedstat: CPU plus I/O, such as a
// checkpoint's fsync inside a commit), and, for what it is worth on a shared machine, the
// event loop's delay.
//
//   node --import tsx bench/refresh-at-scale.ts --db /tmp/large.sqlite [--rotations 40000] [--inflight 64] [--scale 1]
import { copyFileSync, existsSync, openSync, readFileSync, readSync, closeSync, readdirSync, rmSync, statSync, mkdtempSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { buildLargeDatabase, scaled } from './lib/large-data.js';
import { openStores } from '../src/storage/index.js';
import { hashToken } from '../src/crypto/random.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    rotations: { type: 'string', default: '40000' },
    inflight: { type: 'string', default: '64' },
    scale: { type: 'string', default: '1' },
  },
  strict: true,
});
if (!values.db) throw new Error('--db FILE (built there if missing, reused otherwise)');
const ROTATIONS = Number(values.rotations);
const INFLIGHT = Number(values.inflight);

if (!existsSync(values.db)) {
  const built = buildLargeDatabase(values.db, scaled(Number(values.scale)));
  console.log(`built ${values.db} in ${built.seconds.toFixed(0)} s (${(built.bytes / 2 ** 20).toFixed(0)} MiB)`);
}
const dir = mkdtempSync(path.join(tmpdir(), 'refresh-at-scale-'));
const file = path.join(dir, 'gatehouse.sqlite');
copyFileSync(values.db, file);

/** utime + stime of one thread of this process, seconds. */
function threadCpu(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
function cpuByThread(): Map<number, number> {
  const m = new Map<number, number>();
  for (const t of readdirSync('/proc/self/task')) m.set(Number(t), threadCpu(Number(t)));
  return m;
}
/** The WAL header's checkpoint sequence number (it counts restarts of the log). */
function walSequence(wal: string): number {
  const fd = openSync(wal, 'r');
  try {
    const b = Buffer.alloc(16);
    return readSync(fd, b, 0, 16, 0) === 16 ? b.readUInt32BE(12) : 0;
  } finally {
    closeSync(fd);
  }
}

const stores = await openStores({ kind: 'sqlite', path: file }, { server: true });
const wal = `${file}-wal`;
const now = () => new Date();
const user = await stores.users.create({ username: 'scale', usernameKey: 'scale', email: 'scale@example.com', emailKey: 'scale@example.com', passwordHash: 'x', createdAt: now() });
const current: string[] = [];
for (let i = 0; i < 1000; i++) {
  const token = randomBytes(32).toString('base64url');
  await stores.sessions.create({ id: randomUUID(), userId: user.id, clientId: 'gatehouse', refreshHash: hashToken(token), userAgent: null, ip: null, createdAt: now(), expiresAt: new Date(Date.now() + 86_400_000) });
  current.push(hashToken(token));
}

async function rotations(n: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (next < n) {
        const i = next++ % current.length;
        const childHash = hashToken(randomBytes(32).toString('base64url'));
        const at = now();
        const outcome = await stores.sessions.rotate({
          presentedHash: current[i]!,
          now: at,
          childHash,
          childSeal: 'seal',
          childExpiresAt: new Date(at.getTime() + 86_400_000),
          decide: (match) => (match === 'current' ? { kind: 'rotate' } : { kind: 'refuse', reason: 'revoked' }),
        });
        if (!outcome.found || outcome.decision.kind !== 'rotate') throw new Error(`rotation ${i}: ${JSON.stringify(outcome)}`);
        current[i] = childHash;
      }
    }),
  );
}

/** The main thread's time waiting for a core (ns), from schedstat: preemption, not work. */
const schedstat = `/proc/self/task/${process.pid}/schedstat`;
const runqueueWait = (): number => Number(readFileSync(schedstat, 'utf8').split(' ')[1]);
// Each batch's write transaction (sessions.ts runBatch: BEGIN IMMEDIATE ... COMMIT, and a
// commit-time checkpoint when one fires) is synchronous on the event loop. Its wall time
// less the time the thread waited for a core is what it held the loop for: CPU plus I/O.
const hot = (stores.sessions as unknown as { hot: { rotationBatch: { immediate(batch: unknown[]): unknown } } }).hot;
const batchRun = hot.rotationBatch;
const stalls: number[] = [];
let measuring = false;
hot.rotationBatch = {
  immediate(batch) {
    if (!measuring) return batchRun.immediate(batch);
    const w0 = runqueueWait();
    const t0 = process.hrtime.bigint();
    try {
      return batchRun.immediate(batch);
    } finally {
      stalls.push(Number(process.hrtime.bigint() - t0) - (runqueueWait() - w0));
    }
  },
};

await rotations(Math.min(5000, ROTATIONS / 4)); // warm-up: caches, JIT
measuring = true;
const seq0 = walSequence(wal);
let walMax = 0;
const sampler = setInterval(() => {
  walMax = Math.max(walMax, statSync(wal).size);
}, 20);
const delay = monitorEventLoopDelay({ resolution: 1 });
const cpu0 = cpuByThread();
const wall0 = process.hrtime.bigint();
delay.enable();
await rotations(ROTATIONS);
delay.disable();
const wall = Number(process.hrtime.bigint() - wall0) / 1e9;
const cpu1 = cpuByThread();
clearInterval(sampler);
const restarts = walSequence(wal) - seq0;
let others = 0;
for (const [tid, c] of cpu1) if (tid !== process.pid) others += c - (cpu0.get(tid) ?? 0);
const main = cpu1.get(process.pid)! - cpu0.get(process.pid)!;
await stores.close();
rmSync(dir, { recursive: true, force: true });

const ms = (ns: number) => (ns / 1e6).toFixed(1);
stalls.sort((a, b) => a - b);
const at = (q: number) => stalls[Math.min(stalls.length - 1, Math.floor(q * stalls.length))]!;
console.log(
  JSON.stringify({
    rotations: ROTATIONS,
    inflight: INFLIGHT,
    mainCpuUsPerRotation: +((main / ROTATIONS) * 1e6).toFixed(1),
    otherThreadsCpuUsPerRotation: +((others / ROTATIONS) * 1e6).toFixed(1),
    walMaxMiB: +(walMax / 2 ** 20).toFixed(1),
    walRestarts: restarts,
    wallSeconds: +wall.toFixed(1),
    rotationsPerSecondWall: Math.round(ROTATIONS / wall),
    batches: stalls.length,
    batchHeldMs: { p50: ms(at(0.5)), p99: ms(at(0.99)), max: ms(stalls[stalls.length - 1]!), over20ms: stalls.filter((x) => x > 20e6).length, totalSeconds: +(stalls.reduce((a, b) => a + b, 0) / 1e9).toFixed(2) },
    eventLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
  }),
);
