/** The state of one bench run, passed to each part instead of living at module level. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Options } from './options.js';
import type { Results } from './types.js';

/** Monotonic [start, end] µs of one measured server run (to cut the CPU profile to it). */
export interface Window {
  name: string;
  span: [number, number];
}

export interface RunState {
  o: Options;
  /** The run's temp directory: the SQLite file, the server log, token and user files. */
  tmp: string;
  results: Results;
  windows: Window[];
  /** The TOTP users and their used steps (bench/totp-steps.mjs), once made. */
  totpFile?: string;
}

export function newRun(o: Options): RunState {
  return {
    o,
    tmp: mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-')),
    results: {
      floors: { rounds: [] },
      scenarios: {},
      rss: {},
      notes: [],
      sessions: 0,
      busyBefore: 0,
      loadavg: { before: [], after: [] },
      logBytes: 0,
      serverEnv: {},
    },
    windows: [],
  };
}

export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);
