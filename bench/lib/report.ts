/**
 * The results: a plain-text table for the terminal and the markdown of bench/results.md
 * (bench/results-pg.md with --pg), with the ratios to the floors and the targets.
 */
import { fmtMs, fmtRate, mb, pct } from './log.js';
import { CORES, type Options } from './options.js';
import type { LoadResult, MachineFacts, MemorySample, Results, ScenarioResult } from './types.js';

interface Verdict {
  what: string;
  pass?: boolean;
  note?: boolean;
}

const signedPct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
const fmtInstr = (x: number) => Math.round(x).toLocaleString('en-US');

/** The figures a later run compares with (item 7's rates, item 8's instructions), kept in the results file as a comment. */
export interface BenchData {
  rates?: Record<string, number>;
  callgrind?: { perRequest: Record<string, number>; jitless: boolean };
}

function benchData(res: Results): BenchData {
  return {
    rates: Object.fromEntries(Object.entries(res.scenarios).map(([k, r]) => [k, Math.round(r.okRps * 10) / 10])),
    ...(res.callgrind ? { callgrind: { perRequest: res.callgrind.perRequest, jitless: res.callgrind.jitless } } : {}),
  };
}

/** The bench-data comment of an earlier results file (undefined if it has none). */
export function readBenchData(markdown: string): BenchData | undefined {
  const m = /<!-- bench-data (\{.*\}) -->/.exec(markdown);
  if (!m) return undefined;
  try {
    return JSON.parse(m[1]!) as BenchData;
  } catch {
    return undefined;
  }
}

function callgrindSection(res: Results, previous: BenchData | undefined): string[] {
  const cg = res.callgrind;
  if (!cg) return [];
  const prev = previous?.callgrind;
  const comparable = prev && prev.jitless === cg.jitless;
  const rows = Object.entries(cg.perRequest).map(([k, v]) => {
    const p = comparable ? prev.perRequest[k] : undefined;
    const runs = cg.repeats[k] ?? [];
    const all = cg.allThreads?.[k] ?? [];
    const raw = cg.raw?.[k] ?? [];
    return [k, fmtInstr(v), runs.length > 1 ? runs.map(fmtInstr).join(' / ') : '—', raw.map(fmtInstr).join(' / '), all.map(fmtInstr).join(' / '), p ? fmtInstr(p) : '—', p ? signedPct(v / p - 1) : '—'];
  });
  return [
    '## Instructions per request (issue 19 item 8: valgrind callgrind on the server)',
    '',
    `The server (\`node ${cg.nodeFlags.join(' ')} dist/cli.js serve\`) under \`valgrind ${cg.valgrindFlags.join(' ')}\`, on the database this run made. Collection is off at start-up; for each request kind, ${cg.warmup.toLocaleString('en-US')} requests warm the server up (the JIT, caches), then collection is switched on (\`callgrind_control --instr=on\`) around ${cg.requests.toLocaleString('en-US')} requests sent one at a time and the instructions counted (Ir) on the event loop's thread are divided by ${cg.requests}, after taking off what the idle server's event loop runs in as long (its timers: counted just before, collection on and no request); all threads' counts (V8's compiler and GC helpers, the WAL checkpointer: bursts) are shown beside. ${cg.repeats && Object.values(cg.repeats).some((r) => r.length > 1) ? 'Each kind was measured twice in a row; the figure is the lower.' : ''} ${cg.jitless ? '--jitless: V8 only interprets, so the count depends on no JIT timing.' : 'V8 with its JIT, as in production: the warm-up lets the hot paths be optimized before counting.'} Instructions do not depend on the machine's speed or load; they change with the code, Node, V8 and the libraries.`,
    '',
    mdTable(['request', 'instructions per request (event loop, idle taken off)', 'the two measurements', 'before taking off idle', 'all threads', 'previous results file', 'change'], rows),
    '',
    ...(prev && !comparable ? [`The previous results file counted ${prev.jitless ? 'with' : 'without'} --jitless: not comparable.`, ''] : []),
    ...(!prev ? ['The previous results file has no instruction counts to compare with.', ''] : []),
  ];
}

const mdTable = (hdr: string[], body: string[][]) => [`| ${hdr.join(' | ')} |`, `|${hdr.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const errorsOf = (r: LoadResult) => r.non2xx + r.errors + r.timeouts;
/** Cores the rest of the machine used over a run (noise from outside the benchmark). */
const othersCores = (r: ScenarioResult) =>
  r.machineCores === undefined ? 0 : r.machineCores - r.serverCores! - (r.dbCores ?? 0) - r.loadgenCores - (r.login?.loadgenCores ?? 0);

/** One of issue 19's targets: a figure, the floor it is a ratio to (same run), and whether it is met. */
export interface TargetRow {
  id: string;
  what: string;
  figure: string;
  floor: string;
  ratio: string;
  target: string;
  met: boolean | undefined;
}

/** Issue 19's targets (and issue 16's "argon2-bound" TOTP login) from a run's results; a target whose figures this run lacks is left out. */
export function targets(o: Options, res: Results): TargetRow[] {
  const f = res.floors;
  const s = res.scenarios;
  const out: TargetRow[] = [];
  const argon2 = f.argon2?.inFlightPerSecond;
  const argon2Name = f.argon2 ? `argon2id, ${f.argon2.inFlight} in flight` : 'argon2id';
  const ratioRow = (id: string, what: string, r: number | undefined, floorName: string, floor: number | undefined, min: number) => {
    if (r === undefined) return;
    const ratio = floor ? r / floor : undefined;
    out.push({
      id,
      what,
      figure: `${fmtRate(r)}/s`,
      floor: floor ? `${floorName}: ${fmtRate(floor)}/s` : `${floorName}: not measured`,
      ratio: pct(ratio),
      target: `≥ ${Math.round(min * 100)} %`,
      met: ratio === undefined ? undefined : ratio >= min,
    });
  };
  ratioRow('1', 'POST /login', s.login?.okRps, argon2Name, argon2, 0.9);
  ratioRow('1', 'POST /register', s.register?.okRps, argon2Name, argon2, 0.9);
  ratioRow('1 (16)', 'TOTP login: POST /login (403 mfa_required) + POST /login/mfa, completed logins', s['mfa-login']?.okRps, argon2Name, argon2, 0.9);
  ratioRow('2', 'GET /me, hot tokens', s['me-hot']?.okRps, 'GET /healthz', s.healthz?.okRps, o.pg ? 0.4 : 0.5);
  if (!o.pg) {
    const rf = f.refresh;
    ratioRow('3', 'POST /refresh', s.refresh?.okRps, rf ? `Ed25519 + durable SQLite write of ${rf.pages} pages` : 'Ed25519 + durable SQLite write', rf?.okRps, 0.5);
  }
  const mul = s['me-under-login'];
  if (mul) {
    out.push({
      id: '4',
      what: `GET /me p99 at ${o.meRate}/s while /login saturates the cores`,
      figure: `${fmtMs(mul.latencyMs.p99)} ms`,
      floor: '—',
      ratio: '—',
      target: '≤ 10 ms',
      met: mul.latencyMs.p99 != null && mul.latencyMs.p99 <= 10,
    });
  }
  if (res.rss.final && !o.pg) {
    out.push({ id: '5', what: 'RSS once idle after the run', figure: mb(res.rss.final.rssMb), floor: '—', ratio: '—', target: '≤ 120 MB', met: res.rss.final.rssMb <= 120 });
  }
  const step = s['mfa-step'];
  const stepMs = step ? serverCpuMsPerResult(step) : undefined;
  if (step) {
    out.push({
      id: '6',
      what: 'MFA second step (POST /login/mfa with a TOTP code): server CPU per request',
      figure: `${fmtMs(stepMs)} ms`,
      floor: '—',
      ratio: '—',
      target: '< 1 ms',
      met: stepMs === undefined ? undefined : stepMs < 1,
    });
  }
  ratioRow('6', 'POST /oauth/token, authorization_code (each code once)', s['code-exchange']?.okRps, 'POST /refresh', s.refresh?.okRps, 0.8);
  // Against hot /me measured right after it with the same tokens (me-hot-late, which runs
  // whenever userinfo does): one state of the server for both.
  ratioRow('6', 'GET /userinfo, hot tokens', s.userinfo?.okRps, 'GET /me, the same hot tokens, right after it', s['me-hot-late']?.okRps, 0.8);
  if (res.sdk) ratioRow('6', '@gatehouse/node verifier, hot token (verifications/s, one process)', res.sdk.hot, 'jose jwtVerify', res.sdk.jose, 1);
  return out;
}

/** Server CPU per completed request (or flow), in ms. */
export const serverCpuMsPerResult = (r: ScenarioResult): number | undefined => (r.serverSeconds === undefined || r.ok === 0 ? undefined : (r.serverSeconds * 1000) / r.ok);

/** What each scenario is, for the results table. */
const LABELS: Record<string, string> = {
  healthz: 'GET /healthz (no authentication: headers, access log, metrics only)',
  'me-hot': 'GET /me, hot tokens (1 000, reused)',
  'me-hot-late': 'GET /me, hot tokens again, after the feature scenarios (the /userinfo tokens, right after it)',
  refresh: 'POST /refresh (fresh token each)',
  'me-cold': 'GET /me, cold tokens (each once)',
  login: 'POST /login',
  register: 'POST /register',
  'mfa-step': 'POST /login/mfa alone (TOTP code; mfa_tokens made before)',
  'mfa-login': 'TOTP login (password step + code), per completed login',
  'passkey-login': 'passkey login (options + assertion), per completed login',
  authorize: 'GET /oauth/authorize with the sign-in cookie (making the codes)',
  'code-exchange': 'POST /oauth/token authorization_code (each code once)',
  userinfo: 'GET /userinfo, hot tokens (reused)',
};

export function render(o: Options, facts: MachineFacts, res: Results, previous?: BenchData): { markdown: string; table: string } {
  const f = res.floors;
  const rows: string[][] = [];
  const verdicts: Verdict[] = [];
  const s = res.scenarios;
  const prevRate = (name: string) => previous?.rates?.[name];
  for (const [name, r] of Object.entries(s)) {
    if (name === 'me-under-login') continue;
    const before = prevRate(name);
    rows.push([
      LABELS[name] ?? name,
      fmtRate(r.okRps),
      fmtMs(r.latencyMs.p50),
      fmtMs(r.latencyMs.p99),
      String(errorsOf(r)) + (r.warmupNon2xx ? ` (+${r.warmupNon2xx} in warm-up)` : ''),
      r.serverCores?.toFixed(2) ?? '—',
      fmtMs(serverCpuMsPerResult(r)),
      before ? `${fmtRate(before)} (${signedPct(r.okRps / before - 1)})` : '—',
    ]);
  }
  const mul = s['me-under-login'];
  if (mul) {
    rows.push([
      `GET /me at ${o.meRate}/s while /login is saturated`,
      fmtRate(mul.okRps),
      fmtMs(mul.latencyMs.p50),
      fmtMs(mul.latencyMs.p99),
      String(errorsOf(mul)),
      mul.serverCores?.toFixed(2) ?? '—',
      '—',
      '—',
    ]);
    const lr = mul.login!;
    rows.push(['… the saturating POST /login', fmtRate(lr.okRps), fmtMs(lr.latencyMs.p50), fmtMs(lr.latencyMs.p99), String(errorsOf(lr)), '', '', '']);
  }
  const healthz = s.healthz;
  if (healthz && f.hello) {
    verdicts.push({ note: true, what: `GET /healthz reaches ${pct(healthz.okRps / f.hello.okRps)} of bare Fastify GET /hello (information: issue 19 measures hot /me against /healthz)` });
  }
  if (s['me-hot-late'] && s['me-hot']) {
    verdicts.push({
      note: true,
      what: `hot GET /me with the /userinfo tokens after the feature scenarios: ${pct(s['me-hot-late'].okRps / s['me-hot'].okRps)} of hot GET /me early in the run; /userinfo is ${pct((s.userinfo?.okRps ?? 0) / s['me-hot'].okRps)} of that early figure (target 6 compares /userinfo with the later one)`,
    });
  }
  if (s['passkey-login']) {
    verdicts.push({ note: true, what: `passkey login: ${fmtMs(serverCpuMsPerResult(s['passkey-login']))} ms of server CPU per completed login (two requests: options, then the assertion's verification, a session and its tokens)` });
  }
  const loaded = [res.rss.afterSetup, res.rss.endOfLoad, res.rss.afterSessions, res.rss.final].filter((x): x is MemorySample => x !== undefined);
  const rssMax = Math.max(...loaded.map((x) => x.rssMb));
  if (res.rss.endOfLoad && res.rss.final) {
    verdicts.push({ note: true, what: `RSS: ${mb(res.rss.final.rssMb)} once the server was idle; ${mb(rssMax)} at most while loaded, ${mb(res.rss.final.hwmMb)} peak (VmHWM)` });
  }
  const allScen = Object.entries(s).flatMap(([k, r]): Array<[string, ScenarioResult]> => (r.login ? [[k, r], [`${k} (login)`, r.login]] : [[k, r]]));
  const totalErrs = allScen.reduce((a, [, r]) => a + errorsOf(r) + (r.warmupNon2xx ?? 0), 0);
  const reconnects = allScen.reduce((a, [, r]) => a + (r.reconnects ?? 0), 0);
  if (allScen.length) {
    verdicts.push({
      what: `unexpected answers and errors over all scenarios: ${totalErrs} (target 0; any fails the run); ${reconnects} connections closed by the server (Connection: close) and opened again by the load generator`,
      pass: totalErrs === 0,
    });
  }

  const noisy = [
    ...f.rounds.flatMap((rd, i): Array<[string, ScenarioResult]> => [
      [`floor /hello (${i ? 'after' : 'before'})`, rd.hello],
      [`floor jose (${i ? 'after' : 'before'})`, rd.jose],
    ]),
    ...Object.entries(s),
  ]
    .map(([k, r]): [string, number] => [k, othersCores(r)])
    .filter(([, other]) => other > 0.25);
  if (noisy.length) {
    verdicts.push({
      note: true,
      what: `noise: other processes on the machine used ${noisy.map(([k, other]) => `${other.toFixed(2)} cores during ${k}`).join(', ')} (of ${CORES}); those figures are low by about that share`,
    });
  }
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'unexpected / errors', 'server cores', 'server CPU ms each', 'previous results file'];
  const targetRows = targets(o, res);
  const targetTable = targetRows.map((t) => [t.id, t.what, t.figure, t.floor, t.ratio, t.target, t.met === undefined ? 'n/a' : t.met ? 'met' : '**not met**']);

  const other = (r: ScenarioResult) => (r.machineCores === undefined ? '—' : Math.max(0, othersCores(r)).toFixed(2));
  const floorRows: string[][] = [];
  f.rounds.forEach((rd, i) => {
    const when = i === 0 ? 'before' : 'after';
    const used = (x: unknown, y: unknown) => (x === y ? ' ✓' : '');
    floorRows.push([
      `bare Fastify \`GET /hello\` (${when})${used(rd.hello, f.hello)}`,
      fmtRate(rd.hello.okRps),
      fmtMs(rd.hello.latencyMs.p50),
      fmtMs(rd.hello.latencyMs.p99),
      String(rd.hello.non2xx + rd.hello.errors),
      `${rd.hello.total.toLocaleString('en-US')} requests in ${rd.hello.duration} s; floor ${rd.hello.serverCores.toFixed(2)} cores, autocannon ${rd.hello.loadgenCores.toFixed(2)}, others ${other(rd.hello)}`,
    ]);
    floorRows.push([
      `Fastify + jose EdDSA \`jwtVerify\`, each token once (${when})${used(rd.jose, f.jose)}`,
      fmtRate(rd.jose.okRps),
      fmtMs(rd.jose.latencyMs.p50),
      fmtMs(rd.jose.latencyMs.p99),
      String(rd.jose.non2xx + rd.jose.errors),
      `${rd.jose.total.toLocaleString('en-US')} tokens in ${rd.jose.duration} s; floor ${rd.jose.serverCores.toFixed(2)} cores, autocannon ${rd.jose.loadgenCores.toFixed(2)}, others ${other(rd.jose)}`,
    ]);
    const a = rd.argon2;
    floorRows.push([
      `argon2id verify, m=${a.params.memoryKib} KiB t=${a.params.timeCost} p=${a.params.parallelism} (${when})${used(a, f.argon2)}`,
      `${fmtRate(a.inFlightPerSecond)} (${a.inFlight} in flight)`,
      `${fmtMs(a.medianMs)} (one verify, median of ${a.runs})`,
      '—',
      '—',
      `**${a.inFlight} verifies in flight: ${fmtRate(a.inFlightPerSecond)}/s** (issue 19's floor); bound = ${CORES} cores ÷ ${fmtMs(a.medianMs)} ms; min ${fmtMs(a.minMs)} ms`,
    ]);
    const rf = rd.refresh;
    if (rf) {
      floorRows.push([
        `Fastify + Ed25519 signature + durable SQLite write transaction of ${rf.pages} pages (${when})${used(rf, f.refresh)}`,
        fmtRate(rf.okRps),
        fmtMs(rf.latencyMs.p50),
        fmtMs(rf.latencyMs.p99),
        String(rf.non2xx + rf.errors),
        `${rf.total.toLocaleString('en-US')} requests in ${rf.duration} s; ${f.refreshPages?.toFixed(1)} WAL frames per rotation measured on the server; floor ${rf.serverCores.toFixed(2)} cores, autocannon ${rf.loadgenCores.toFixed(2)}, others ${other(rf)}`,
      ]);
    }
  });

  const rssRows = (
    [
      ['after start-up', res.rss.started],
      ['after setup (100 users, 1 000 sessions)', res.rss.afterSetup],
      ...Object.entries(s).map(([name, r]) => [`right after the scenario ${name}`, r.memoryAfter]),
      ['at the end of the load', res.rss.endOfLoad],
      [`after ${res.sessions.toLocaleString('en-US')} sessions exist`, res.rss.afterSessions],
      [`after the run (server idle, ${res.rss.idleAfterMs} ms later)`, res.rss.idle],
      [`once idle (${res.rss.finalAfterMs} ms after the load: the extra hashing threads ended, the idle collections done)`, res.rss.final],
      ...(res.rss.watch ?? []).map(([sec, m]) => [`--idle-watch: ${sec} s after "once idle"`, m]),
    ] as Array<[string, MemorySample | undefined]>
  )
    .filter((row): row is [string, MemorySample] => row[1] !== undefined)
    .map(([k, v]) => [k, mb(v.rssMb), mb(v.anonMb), mb(v.fileMb), v.heapTotalMb ? `${mb(v.heapUsedMb)} of ${mb(v.heapTotalMb)}` : '—', mb(v.hwmMb)]);

  const detailRows = Object.entries(s).map(([k, r]) => [
    k,
    String(r.total),
    String(r.duration),
    String(r.connections) + (r.overallRate ? ` @ ${r.overallRate}/s` : ''),
    fmtMs(r.latencyMs.p90),
    fmtMs(r.latencyMs.max),
    String(r.latencyMs.autocannonP99 ?? '—'),
    JSON.stringify(r.statusCodes),
    r.serverCores?.toFixed(2) ?? '—',
    ...(o.pg ? [r.dbCores?.toFixed(2) ?? '—'] : []),
    r.loadgenCores.toFixed(2) + (r.login ? ` + ${r.login.loadgenCores.toFixed(2)}` : ''),
    other(r),
  ]);

  // The revocation delay (issue 18): its own section, after the load figures.
  const rev = res.revocation;
  const revPass = rev ? rev.p99Ms < 1000 : undefined;
  const revRows = rev
    ? [[String(rev.logouts), fmtMs(rev.medianMs), fmtMs(rev.p99Ms), fmtMs(rev.maxMs), fmtMs(rev.meanMs), String(rev.acceptedAfterLogout), 'p99 < 1 s', revPass ? 'PASS' : '**FAIL**']]
    : [];
  const revSection = rev
    ? [
        '## Revocation delay (issue 18)',
        '',
        'A resource server in its own process (`test/helpers/resource-server.ts`: `@gatehouse/node`\'s verifier with the revocation feed, subscribed to this server as a confidential client made by `gatehouse clients create`). For each logout, one at a time: log in, one accepted request at the resource server, `POST /logout`, then the resource server asked again as soon as it answers; the delay is from the logout\'s answer to the first refusal (401). Run after the load and the memory figures, on the same server.',
        '',
        mdTable(['logouts', 'median ms', 'p99 ms', 'max ms', 'mean ms', 'polls still accepted after the logouts (all of them)', 'target', 'result'], revRows),
        '',
      ]
    : [];

  const envShown = Object.entries(res.serverEnv)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${k === 'PORT' ? '(free port)' : k === 'DATABASE_URL' && o.dbKind === 'sqlite' ? 'file:(fresh temp file)' : v}`);

  const md = [
    `<!-- Generated by \`${o.cli}\` (bench/run.ts). Do not edit: run it again. -->`,
    `# Gatehouse benchmark (${o.dbKind === 'sqlite' ? 'SQLite' : 'PostgreSQL + Redis'})`,
    '',
    `Command: \`${o.cli}\`  `,
    `Date: ${facts.date}; git ${facts.git}  `,
    `Machine: ${facts.cores} cores (${facts.model}), ${facts.memGb.toFixed(0)} GiB, Linux ${facts.kernel}, Node ${facts.node}, autocannon ${facts.autocannon}  `,
    `CPU busy with other processes just before the run: ${(res.busyBefore * 100).toFixed(0)} %; load average before / after: ${res.loadavg.before.map((x) => x.toFixed(2)).join(' ')} / ${res.loadavg.after.map((x) => x.toFixed(2)).join(' ')}  `,
    `Server: \`node ${o.serverNodeFlags.join(' ')} dist/cli.js serve\` (a child process, as \`npm start\` runs it), database ${o.dbKind}, LOG_LEVEL=${o.logLevel}${o.logLevel === 'info' ? ' (the default: one JSON line per request, to a file)' : ' (--quiet-logs)'}, argon2 at its defaults, ${(res.logBytes / 2 ** 20).toFixed(1)} MiB of log written  `,
    `Load: autocannon in a separate process per run, ${o.connections} connections, ${o.warmup} s warm-up then ${o.duration} s per scenario (cold /me sized by token count); latencies of 2xx answers`,
    '',
    '## Results',
    '',
    mdTable(header, rows),
    '',
    '## Targets (issue 19): each a ratio to a floor measured in the same run',
    '',
    targetTable.length ? mdTable(['item', 'what', 'figure', 'floor (same run)', 'ratio', 'target', 'result'], targetTable) : '(no target measured in this run)',
    '',
    ...verdicts.map((v) => `- ${v.note ? 'NOTE' : v.pass ? 'PASS' : '**FAIL**'}: ${v.what}`),
    '',
    ...callgrindSection(res, previous),
    ...revSection,
    '## Floors (same run, same machine: before the server started and after it stopped; ✓ = the better one, used for the ratios)',
    '',
    mdTable(['floor', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'detail'], floorRows),
    '',
    '## Memory of the server process (VmRSS; VmHWM is the peak so far)',
    '',
    "RSS is anonymous memory (the V8 heap, native allocations: SQLite, argon2, buffers) plus file-backed pages (mostly the `node` binary's code, shared with every other Node process). The V8 heap figures come from the server's `/metrics`.",
    '',
    mdTable(['when', 'RSS', 'anonymous', 'file-backed', 'V8 heap used of total', 'peak'], rssRows),
    '',
    '## Details',
    '',
    mdTable(
      [
        'run',
        'requests',
        'seconds',
        'connections',
        'p90 ms',
        'max ms',
        'autocannon p99 ms',
        'status codes',
        'server cores',
        ...(o.pg ? ['PostgreSQL + Redis cores'] : []),
        'load generator cores',
        "other processes' cores",
      ],
      detailRows,
    ),
    '',
    `Server environment: \`${envShown.join(' ')}\``,
    '',
    'How each figure is made:',
    "- Every load runs in its own forked process (bench/load.mjs), never in the server's; the server, the load generator and the floors share the machine's cores, as the floors did when they were measured.",
    "- `/healthz`: the same request each time; Gatehouse's per-request work (six security headers, one access-log line, two Prometheus observations) without authentication or database.",
    '- Hot `/me`: 1 000 access tokens (100 users × 10 logins), each sent once first, then pre-built requests cycled round robin on each connection, each connection from its own offset (not in step).',
    "- `/refresh`: a pool of the 1 000 sessions' refresh tokens; each request takes a token out and never reuses it, each answer puts its rotated token back.",
    '- Cold `/me`: the access tokens minted by the `/refresh` runs, each sent once (so its length depends on the refresh rate); the jose floor likewise sends each of its pre-signed tokens once.',
    '- `/login` cycles the 100 users; `/register` sends a unique username per request. Each verify or hash is one argon2id at the default cost; the bound is cores ÷ single-verify time.',
    `- \`/me\` under \`/login\`: ${o.connections} connections of logins, and /me at a fixed ${o.meRate} req/s on ${o.meConnections} connections from another process, started 1 s after the logins.`,
    `- Server cores: CPU time of the server process (all threads) ÷ wall time of the measured run; load generator cores likewise for the autocannon process${o.pg ? '; PostgreSQL + Redis cores for every postgres and redis-server process' : ''}; other processes' cores: the rest of the machine's busy time (/proc/stat) over the same run (noise from outside the benchmark).`,
    ...res.notes.map((n) => `- ${n}`),
    '',
  ];

  const txt = [header, ...rows]
    .map((r) =>
      r
        .map((c, i) =>
          String(c)
            .replace(/\*\*/g, '')
            .padEnd([40, 9, 7, 7, 16, 13, 11, 8, 12, 7, 6][i] ?? 8),
        )
        .join(' '),
    )
    .join('\n');
  const txtFloors = floorRows.map((r) => `  floor ${r[0]!.replace(/`/g, '')}: ${r[1]}${r[1]!.startsWith('bound') ? '/s' : ' req/s'}, p50 ${r[2]} ms`).join('\n');
  const txtRss = rssRows.map((r) => `  RSS ${r[0]}: ${r[1]} (anonymous ${r[2]}, file-backed ${r[3]}, V8 heap ${r[4]}; peak ${r[5]})`).join('\n');
  const txtTargets = targetRows.map((t) => `  ${t.met === undefined ? 'n/a    ' : t.met ? 'met    ' : 'NOT MET'} [${t.id}] ${t.what}: ${t.figure}${t.ratio !== '—' ? `, ${t.ratio} of ${t.floor}` : ''} (target ${t.target})`).join('\n');
  // Only a count made the same way (JIT or interpreter) is a "previous" figure.
  const prevCounts = previous?.callgrind && previous.callgrind.jitless === res.callgrind?.jitless ? previous.callgrind.perRequest : undefined;
  const txtCallgrind = res.callgrind
    ? Object.entries(res.callgrind.perRequest)
        .map(([k, v]) => `  callgrind ${k}: ${fmtInstr(v)} instructions per request${prevCounts?.[k] ? ` (previous ${fmtInstr(prevCounts[k])}, ${signedPct(v / prevCounts[k] - 1)})` : ''}`)
        .join('\n')
    : '';
  const txtVerdicts = verdicts.map((v) => `  ${v.note ? 'NOTE' : v.pass ? 'PASS' : 'FAIL'} ${v.what}`).join('\n');
  const txtRev = rev
    ? `\n  ${revPass ? 'PASS' : 'FAIL'} revocation delay over ${rev.logouts} logouts (logout answered -> resource server refuses): median ${fmtMs(rev.medianMs)} ms, p99 ${fmtMs(rev.p99Ms)} ms, max ${fmtMs(rev.maxMs)} ms (target p99 < 1 s)\n`
    : '';
  md.push(`<!-- bench-data ${JSON.stringify(benchData(res))} -->`, '');
  return { markdown: md.join('\n'), table: `${txt}\n\n${txtFloors}\n${txtRss}\n\n${txtTargets}\n${txtCallgrind}\n\n${txtVerdicts}\n${txtRev}` };
}
