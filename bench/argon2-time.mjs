// The argon2id bound of `npm run bench`, measured in its own process with @node-rs/argon2 at
// the parameters the server is configured with (ARGON2_MEMORY_KIB / _TIME_COST /
// _PARALLELISM, defaults 19456 / 2 / 1, as in src/config). Prints one JSON line:
//   single: median wall time of one verify, run one at a time (N runs);
//   in flight: verifies/s with IN_FLIGHT (default cores + 1, as the server's hashing pool)
//   verifies in flight at once for SECONDS (default 3), nothing else running (the libuv pool
//   must have that many threads: the bench sets UV_THREADPOOL_SIZE). Issue 19 target 1's floor.
import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';

const params = {
  algorithm: 2, // Argon2id
  memoryCost: Number(process.env.ARGON2_MEMORY_KIB ?? 19456),
  timeCost: Number(process.env.ARGON2_TIME_COST ?? 2),
  parallelism: Number(process.env.ARGON2_PARALLELISM ?? 1),
};
const runs = Number(process.env.RUNS ?? 30);
const cores = availableParallelism();
const password = 'Correct-Horse-9-battery';
const stored = await hash(password, params);

for (let i = 0; i < 3; i++) await verify(stored, password); // warm-up
const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  if (!(await verify(stored, password))) throw new Error('argon2 verify failed');
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];

// Throughput with IN_FLIGHT verifies in flight.
const inFlight = Number(process.env.IN_FLIGHT ?? cores + 1);
let done = 0;
const t0 = process.hrtime.bigint();
const deadline = Date.now() + Number(process.env.SECONDS ?? 3) * 1000;
await Promise.all(
  Array.from({ length: inFlight }, async () => {
    while (Date.now() < deadline) {
      await verify(stored, password);
      done++;
    }
  }),
);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;

console.log(JSON.stringify({
  params: { memoryKib: params.memoryCost, timeCost: params.timeCost, parallelism: params.parallelism },
  runs,
  cores,
  medianMs: median,
  minMs: times[0],
  maxMs: times[times.length - 1],
  inFlight,
  inFlightPerSecond: done / seconds,
}));
