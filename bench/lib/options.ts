/** `npm run bench`'s command line (see bench/run.ts for what each option does) and the run's constants. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BENCH = path.join(ROOT, 'bench');
/** The load scenarios, in the order they run. */
export const SCENARIOS = ['healthz', 'me-hot', 'refresh', 'me-cold', 'login', 'register', 'me-under-login', 'mfa-step', 'mfa-login', 'passkey-login', 'code-exchange', 'userinfo'] as const;
export type Scenario = (typeof SCENARIOS)[number];
/** Measurements other than load scenarios that --only can pick. */
export const EXTRAS = ['revocation', 'callgrind'] as const;
export type Part = Scenario | (typeof EXTRAS)[number];
export const PASSWORD = 'Bench-Password-1';
export const BIG = '100000000';
export const CORES = availableParallelism();

/** --quick: every figure measured, briefly (proves the bench runs; its figures are not the benchmark's). */
const QUICK: Record<string, string> = {
  duration: '2',
  warmup: '1',
  sessions: '1500',
  'fill-seconds': '5',
  'jose-tokens': '8000',
  'wait-quiet': '0',
  'revocation-logouts': '20',
  'mfa-steps': '200',
  'callgrind-requests': '200',
  'callgrind-warmup': '300',
};

const DEFAULTS: Record<string, string> = {
  duration: '10',
  warmup: '2',
  sessions: '10000',
  'fill-seconds': '100',
  'jose-tokens': '60000',
  'wait-quiet': '120',
  'revocation-logouts': '100',
  'mfa-steps': '2000',
  'callgrind-requests': '200',
  'callgrind-warmup': '300',
};

export interface Options {
  pg: boolean;
  pgUrl: string;
  redisUrl: string;
  quietLogs: boolean;
  quick: boolean;
  /** Seconds of each measured run, and of each warm-up. */
  duration: number;
  warmup: number;
  connections: number;
  build: boolean;
  skipFloors: boolean;
  /** --only as given (undefined: everything). */
  onlyArg: string | undefined;
  only: readonly Part[];
  sessionsTarget: number;
  fillSeconds: number;
  meRate: number;
  meConnections: number;
  joseTokens: number;
  revocationLogouts: number;
  cpuProf: boolean;
  out: string | undefined;
  keep: boolean;
  waitQuiet: number;
  dbDir: string | undefined;
  maxSeconds: number;
  /** mfa-step: second steps in the measured run. */
  mfaSteps: number;
  /** Instructions per request under valgrind's callgrind (issue 19 item 8). */
  callgrind: boolean;
  callgrindRequests: number;
  callgrindWarmup: number;
  /** --jitless for the server under callgrind. */
  callgrindJitless: boolean;
  /** --callgrind-kinds a,b: only these request kinds (all when empty). */
  callgrindKinds: string[];
  /** Every scenario, the floors, no profile: the run whose results go to bench/results*.md. */
  full: boolean;
  dbKind: 'sqlite' | 'postgres';
  logLevel: 'info' | 'warn';
  /** --large: the SQLite scenarios again on a large database (bench/lib/large-data.ts). */
  large: boolean;
  /** --large-scale F: the large data set's sizes times F (1: the item's sizes). */
  largeScale: number;
  /** Unique per run: user names, the PostgreSQL schema, the Redis key prefix. */
  runId: string;
  /** The command as typed, for the results file. */
  cli: string;
  /** The node flags `npm start` (package.json) and the `gatehouse` bin run the server with. */
  serverNodeFlags: string[];
  /** --idle-watch: after the "once idle" reading, the server's memory each second for this long. */
  idleWatchSeconds: number;
  serverEnv: Record<string, string>;
  /**
   * --server-root DIR: the checkout whose build (`dist/cli.js`) is the server measured, its
   * start script's flags and environment included; this checkout by default. For before and
   * after in the same hour with the same load generator (issue 19 item 7): another commit's
   * worktree, built there.
   */
  serverRoot: string;
}

export function parseOptions(argv: string[] = process.argv.slice(2)): Options {
  const { values: args } = parseArgs({
    args: argv,
    options: {
      pg: { type: 'boolean', default: false },
      'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test' },
      'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
      'quiet-logs': { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string', default: '32' },
      build: { type: 'boolean', default: true },
      'no-build': { type: 'boolean', default: false },
      'skip-floors': { type: 'boolean', default: false },
      only: { type: 'string' },
      sessions: { type: 'string' },
      'fill-seconds': { type: 'string' },
      'me-rate': { type: 'string', default: '1000' },
      'me-connections': { type: 'string', default: '8' },
      'jose-tokens': { type: 'string' },
      'revocation-logouts': { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      out: { type: 'string' },
      keep: { type: 'boolean', default: false },
      'wait-quiet': { type: 'string' },
      'db-dir': { type: 'string' },
      'max-seconds': { type: 'string' },
      large: { type: 'boolean', default: false },
      'large-scale': { type: 'string', default: '1' },
      'mfa-steps': { type: 'string' },
      callgrind: { type: 'boolean' },
      'no-callgrind': { type: 'boolean', default: false },
      'callgrind-requests': { type: 'string' },
      'callgrind-warmup': { type: 'string' },
      'callgrind-jitless': { type: 'boolean' },
      'callgrind-jit': { type: 'boolean', default: false },
      'callgrind-kinds': { type: 'string' },
      'idle-watch': { type: 'string', default: '0' },
      'server-flags': { type: 'string' },
      'server-env': { type: 'string' },
      'server-root': { type: 'string' },
    },
    strict: true,
  });
  const quick = args.quick === true;
  // An option given on the command line wins; then --quick's value; then the default.
  const pick = (name: keyof typeof DEFAULTS): number => {
    const given = (args as Record<string, string | boolean | undefined>)[name];
    return Number(typeof given === 'string' ? given : quick ? QUICK[name] : DEFAULTS[name]);
  };
  const parts: readonly Part[] = [...SCENARIOS, ...EXTRAS];
  const only = args.only ? args.only.split(',').map((s) => s.trim()) : parts;
  for (const s of only) if (!parts.includes(s as Part)) throw new Error(`--only: unknown scenario ${s} (${parts.join(', ')})`);
  if (args.large && args.pg) throw new Error('--large measures SQLite only (not with --pg)');
  if (args.large && args['server-root']) throw new Error('--large builds its database with this checkout: not with --server-root');
  const serverRoot = path.resolve(args['server-root'] ?? ROOT);
  const startScript = (JSON.parse(readFileSync(path.join(serverRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start!;
  const flags = /((?:[A-Z_]+=\S+ )*)node ((?:--\S+ )*)dist\/cli\.js serve/.exec(startScript);
  if (!flags) throw new Error('package.json: the start script does not run `node ... dist/cli.js serve`');
  const typed = argv.length > 0 ? ` ${argv.join(' ')}` : '';
  return {
    pg: args.pg === true,
    pgUrl: args['pg-url']!,
    redisUrl: args['redis-url']!,
    quietLogs: args['quiet-logs'] === true,
    quick,
    duration: pick('duration'),
    warmup: pick('warmup'),
    connections: Number(args.connections),
    build: args.build !== false && args['no-build'] !== true,
    skipFloors: args['skip-floors'] === true,
    onlyArg: args.only,
    only: only as Part[],
    sessionsTarget: pick('sessions'),
    fillSeconds: pick('fill-seconds'),
    meRate: Number(args['me-rate']),
    meConnections: Number(args['me-connections']),
    joseTokens: pick('jose-tokens'),
    revocationLogouts: pick('revocation-logouts'),
    cpuProf: args['cpu-prof'] === true,
    out: args.out,
    keep: args.keep === true,
    waitQuiet: pick('wait-quiet'),
    dbDir: args['db-dir'],
    mfaSteps: pick('mfa-steps'),
    // Part of a full run (it takes minutes: the server runs ~50× slower under valgrind);
    // --quick leaves it out unless --callgrind asks; --only callgrind runs it alone.
    callgrind: args['no-callgrind'] !== true && !args['cpu-prof'] && (args.callgrind === true || (args.only ? only.includes('callgrind') : !quick)),
    callgrindRequests: pick('callgrind-requests'),
    // The JIT needs far more warm-up than the interpreter's caches (1 000 was not enough:
    // its optimised code still changed under valgrind's slow clock).
    callgrindWarmup: args['callgrind-jit'] === true && args['callgrind-warmup'] === undefined ? 3000 : pick('callgrind-warmup'),
    // Interpreter counts by default: with the JIT the same build counted /healthz at 0.23 M
    // and 0.33 M instructions in two runs (which code V8 optimised, and when, moves with
    // valgrind's timing); without it two builds agreed within 0.5 % (docs/performance.md).
    callgrindJitless: args['callgrind-jit'] !== true,
    callgrindKinds: (args['callgrind-kinds'] ?? '').split(',').filter(Boolean),
    // A full run has many more parts now (MFA, passkeys, OpenID Connect, callgrind): 25 minutes.
    maxSeconds: Number(args['max-seconds'] ?? (quick ? '900' : '1500')),
    full: !args.only && !args['skip-floors'] && !args['cpu-prof'] && !args.large,
    dbKind: args.pg ? 'postgres' : 'sqlite',
    logLevel: args['quiet-logs'] ? 'warn' : 'info',
    large: args.large === true,
    largeScale: Number(args['large-scale']),
    runId: `${Date.now().toString(36).slice(-5)}${randomBytes(2).toString('hex')}`,
    cli: process.env.npm_lifecycle_event === 'bench' ? `npm run bench${argv.length > 0 ? ` --${typed}` : ''}` : `node --import tsx bench/run.ts${typed}`,
    // The start script's flags, then --server-flags' (to measure a V8 or Node flag: the
    // results record the flags used).
    serverRoot,
    serverNodeFlags: [...flags[2]!.trim().split(' '), ...(args['server-flags'] ?? '').split(' ')].filter(Boolean),
    idleWatchSeconds: Number(args['idle-watch']),
    // The start script's environment first (`NAME=${NAME:-default}` gives the default), then
    // --server-env NAME=VALUE,...: more of the server's environment (to measure a setting).
    serverEnv: {
      ...Object.fromEntries(
        flags[1]!
          .trim()
          .split(' ')
          .filter(Boolean)
          .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1).replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1')]),
      ),
      ...Object.fromEntries((args['server-env'] ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    },
  };
}

/** Whether this run measures `part` (--only, or everything). */
export const runs = (o: Options, ...parts: Part[]): boolean => parts.some((p) => o.only.includes(p));
