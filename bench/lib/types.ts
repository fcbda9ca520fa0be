/** The shapes that pass between the bench's modules and its forked load processes (bench/load.mjs). */

/** One autocannon run, as bench/load.mjs takes it (see the comment at the top of that file). */
export interface LoadSpec {
  kind: 'static' | 'hot' | 'cold' | 'refresh' | 'login' | 'register' | 'mfa-login' | 'mfa-password' | 'mfa-step' | 'passkey-login' | 'authorize' | 'code-exchange';
  url: string;
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  connections: number;
  /** Seconds (a run sized by time) ... */
  duration?: number;
  /** ... or a count of requests (a run sized by count). */
  amount?: number;
  overallRate?: number;
  timeout?: number;
  /** hot / cold: one token a line. */
  tokensFile?: string;
  /** cold / login: the first token or user. */
  start?: number;
  /** refresh: the pool of refresh tokens, and where the pool and the minted access tokens go. */
  poolFile?: string;
  collectFile?: string;
  collectMax?: number;
  /** login: a JSON array of { username, password }. */
  usersFile?: string;
  /** register: usernames are prefix + a counter. */
  prefix?: string;
  password?: string;
  /** mfa-*: the TOTP users and the steps used so far (bench/totp-steps.mjs), read and written back. */
  totpFile?: string;
  /** passkey-login: the software authenticator's credentials (counters written back). */
  credentialsFile?: string;
  /** authorize: the authorization request's parameters (PKCE and state are added per request), the sign-in cookie. */
  authorize?: Record<string, string>;
  cookie?: string;
  /** code-exchange: the client and its redirect URI. */
  clientId?: string;
  redirectUri?: string;
}

/** Latencies of 2xx answers, in ms (microsecond resolution). */
export interface Latency {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
  /** autocannon's own figure (whole ms). */
  autocannonP99: number;
}

/** What bench/load.mjs answers for one run. */
export interface LoadResult {
  kind: LoadSpec['kind'];
  connections: number;
  overallRate: number | null;
  duration: number;
  autocannonDuration: number;
  wall: number;
  total: number;
  ok: number;
  rps: number;
  okRps: number;
  /** Answers other than each request's expected one (2xx unless the request says otherwise). */
  non2xx: number;
  /** Those answers by "step status". */
  unexpected: Record<string, number>;
  errors: number;
  timeouts: number;
  /** Connections closed after an answer with `Connection: close` and opened again. */
  reconnects: number;
  /** What made the load unable to do what it was asked (no TOTP step left, an empty pool). */
  problems: string[];
  statusCodes: Record<string, number>;
  /** Flows of several requests: each step's expected answers and latencies. */
  steps?: Record<string, { ok: number; p50: number | null; p99: number | null }>;
  loadgenCores: number;
  latencyMs: Latency;
}

/** Cores used over a measured run (bench/lib/meters.ts cpuMeter). */
export interface CpuUse {
  serverCores: number;
  /** CPU seconds the server used over the run. */
  serverSeconds?: number;
  dbCores?: number;
  machineCores: number;
}

/** A measured scenario: the load's result, the CPU over it, and what the warm-up got wrong. */
export type ScenarioResult = LoadResult &
  Partial<CpuUse> & {
    warmupNon2xx?: number;
    /** refresh: tokens left in the pool, requests that found it empty. */
    poolLeft?: number;
    poolExhausted?: number;
    /** me-under-login: the saturating logins. */
    login?: LoadResult;
    /** The server's memory right after the measured run (which load leaves the heap largest). */
    memoryAfter?: MemorySample;
  };

export type FloorLoad = LoadResult & CpuUse;

/** One line of bench/argon2-time.mjs, plus the bound derived from it. */
export interface Argon2Floor {
  params: { memoryKib: number; timeCost: number; parallelism: number };
  runs: number;
  cores: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Verifies in flight at once (cores + 1) and the rate they reached: issue 19 target 1's floor. */
  inFlight: number;
  inFlightPerSecond: number;
  /** cores ÷ single-verify time (issue 6's bound). */
  boundPerSecond: number;
}

export interface FloorRound {
  argon2: Argon2Floor;
  hello: FloorLoad;
  jose: FloorLoad;
  /** Ed25519 signature + a durable SQLite write transaction of `pages` pages (after the server only: its page count comes from the server). */
  refresh?: FloorLoad & { pages: number };
}

export interface Floors {
  rounds: FloorRound[];
  /** The better figure of the rounds: the one every ratio uses. */
  argon2?: Argon2Floor;
  hello?: FloorLoad;
  jose?: FloorLoad;
  refresh?: FloorLoad & { pages: number };
  /** WAL frames one rotation writes on the server (median of sequential refreshes). */
  refreshPages?: number;
}

/** The server's memory at one moment: /proc/PID/status, and the V8 heap from its /metrics. */
export interface MemorySample {
  rssMb: number;
  hwmMb: number;
  anonMb: number;
  fileMb: number;
  heapTotalMb?: number;
  heapUsedMb?: number;
  externalMb?: number;
}

export interface MemoryResults {
  started?: MemorySample;
  afterSetup?: MemorySample;
  endOfLoad?: MemorySample;
  afterSessions?: MemorySample;
  /** Once the server's CPU went quiet. */
  idle?: MemorySample;
  /** Later still: the hashing threads beyond the first have ended (their idle timeout). */
  final?: MemorySample;
  idleAfterMs?: number;
  finalAfterMs?: number;
  /** --idle-watch: [seconds after the "once idle" reading, sample], one a second. */
  watch?: Array<[number, MemorySample]>;
}

/** Time from a logout's answer until a resource server following the revocation feed refuses the token. */
export interface RevocationDelay {
  logouts: number;
  /** Sorted, in ms. */
  delaysMs: number[];
  medianMs: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Requests the resource server answered while it still accepted a logged-out token. */
  acceptedAfterLogout: number;
}

export interface Results {
  floors: Floors;
  scenarios: Record<string, ScenarioResult>;
  rss: MemoryResults;
  notes: string[];
  sessions: number;
  busyBefore: number;
  loadavg: { before: number[]; after: number[] };
  logBytes: number;
  serverEnv: Record<string, string | undefined>;
  revocation?: RevocationDelay;
  /** bench/sdk-verifier.ts's figures (verifications/s). */
  sdk?: { jose: number; uncached: number; hot: number };
  callgrind?: CallgrindResults;
}

/** Instructions per request under callgrind (bench/lib/callgrind.ts). */
export interface CallgrindResults {
  jitless: boolean;
  requests: number;
  warmup: number;
  nodeFlags: string[];
  valgrindFlags: string[];
  /** The figure per request kind (the lower of the repeats). */
  perRequest: Record<string, number>;
  /** Every measurement per kind, in order (the event loop's thread, the idle server's rate taken off). */
  repeats: Record<string, number[]>;
  /** The same before the idle server's instructions per second were taken off. */
  raw: Record<string, number[]>;
  /** The same measurements, every thread of the process (idle not taken off). */
  allThreads: Record<string, number[]>;
}

export interface MachineFacts {
  cores: number;
  model: string;
  memGb: number;
  node: string;
  kernel: string;
  date: string;
  git: string;
  autocannon: string;
}
