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

const mdTable = (hdr: string[], body: string[][]) => [`| ${hdr.join(' | ')} |`, `|${hdr.map(() => '---').join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const errorsOf = (r: LoadResult) => r.non2xx + r.errors + r.timeouts;
/** Cores the rest of the machine used over a run (noise from outside the benchmark). */
const othersCores = (r: ScenarioResult) =>
  r.machineCores === undefined ? 0 : r.machineCores - r.serverCores! - (r.dbCores ?? 0) - r.loadgenCores - (r.login?.loadgenCores ?? 0);

export function render(o: Options, facts: MachineFacts, res: Results): { markdown: string; table: string } {
  const f = res.floors;
  const hello = f.hello?.okRps;
  const jose = f.jose?.okRps;
  const bound = f.argon2?.boundPerSecond;
  const rows: string[][] = [];
  const verdicts: Verdict[] = [];
  const s = res.scenarios;
  const add = (label: string, r: ScenarioResult | undefined, floorName: string, floor: number | undefined, target: number, extra = '') => {
    if (!r) return;
    const ratio = floor ? r.okRps / floor : undefined;
    const pass = ratio === undefined ? undefined : ratio >= target;
    rows.push([
      label,
      fmtRate(r.okRps),
      fmtMs(r.latencyMs.p50),
      fmtMs(r.latencyMs.p99),
      String(errorsOf(r)) + (r.warmupNon2xx ? ` (+${r.warmupNon2xx} in warm-up)` : ''),
      floorName,
      floor ? fmtRate(floor) : '—',
      pct(ratio),
      `≥ ${Math.round(target * 100)} %${extra}`,
      pass === undefined ? 'n/a' : pass ? 'PASS' : '**FAIL**',
      r.serverCores?.toFixed(2) ?? '—',
    ]);
    if (pass !== undefined) verdicts.push({ what: `${label}: ${pct(ratio)} of ${floorName} (target ≥ ${Math.round(target * 100)} %)`, pass });
  };
  const healthz = s.healthz;
  if (healthz) {
    rows.push([
      'GET /healthz (no authentication: headers, access log, metrics only)',
      fmtRate(healthz.okRps),
      fmtMs(healthz.latencyMs.p50),
      fmtMs(healthz.latencyMs.p99),
      String(errorsOf(healthz)),
      'bare /hello',
      hello ? fmtRate(hello) : '—',
      pct(hello ? healthz.okRps / hello : undefined),
      '(info)',
      'n/a',
      healthz.serverCores?.toFixed(2) ?? '—',
    ]);
  }
  add('GET /me, hot tokens (1 000, reused)', s['me-hot'], 'bare /hello', hello, 0.5);
  if (healthz && s['me-hot']) {
    verdicts.push({
      note: true,
      what: `GET /healthz, which authenticates nothing, reaches ${pct(hello ? healthz.okRps / hello : undefined)} of bare /hello; hot GET /me reaches ${pct(s['me-hot'].okRps / healthz.okRps)} of GET /healthz`,
    });
  }
  add('GET /me, cold tokens (each once)', s['me-cold'], 'jose verify', jose, 0.85);
  add('POST /login', s.login, 'argon2 bound', bound, 0.9);
  add('POST /refresh (fresh token each)', s.refresh, 'bare /hello', hello, 0.25);
  add('POST /register', s.register, 'argon2 bound', bound, 0.9);
  const mul = s['me-under-login'];
  if (mul) {
    const pass = mul.latencyMs.p99 != null && mul.latencyMs.p99 <= 10;
    rows.push([
      `GET /me at ${o.meRate}/s while /login is saturated`,
      fmtRate(mul.okRps),
      fmtMs(mul.latencyMs.p50),
      fmtMs(mul.latencyMs.p99),
      String(errorsOf(mul)),
      '—',
      '—',
      '—',
      'p99 ≤ 10 ms',
      pass ? 'PASS' : '**FAIL**',
      mul.serverCores?.toFixed(2) ?? '—',
    ]);
    const lr = mul.login!;
    rows.push([
      '… the saturating POST /login',
      fmtRate(lr.okRps),
      fmtMs(lr.latencyMs.p50),
      fmtMs(lr.latencyMs.p99),
      String(errorsOf(lr)),
      'argon2 bound',
      bound ? fmtRate(bound) : '—',
      pct(bound ? lr.okRps / bound : undefined),
      '(info)',
      'n/a',
      '',
    ]);
    verdicts.push({ what: `GET /me p99 while /login is saturated: ${fmtMs(mul.latencyMs.p99)} ms (target ≤ 10 ms)`, pass });
  }
  const loaded = [res.rss.afterSetup, res.rss.endOfLoad, res.rss.afterSessions, res.rss.final].filter((x): x is MemorySample => x !== undefined);
  const rssMax = Math.max(...loaded.map((x) => x.rssMb));
  if (res.rss.endOfLoad && res.rss.final) {
    verdicts.push({
      what: `RSS after the run: ${mb(res.rss.final.rssMb)} once the server was idle (target ≤ 120 MB); ${mb(rssMax)} at most while loaded, ${mb(res.rss.final.hwmMb)} peak (VmHWM)`,
      pass: res.rss.final.rssMb <= 120,
    });
  }
  const allScen = Object.entries(s).flatMap(([k, r]): Array<[string, ScenarioResult]> => (r.login ? [[k, r], [`${k} (login)`, r.login]] : [[k, r]]));
  const totalErrs = allScen.reduce((a, [, r]) => a + errorsOf(r) + (r.warmupNon2xx ?? 0), 0);
  if (allScen.length) verdicts.push({ what: `non-2xx responses and errors over all scenarios: ${totalErrs} (target 0)`, pass: totalErrs === 0 });

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
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx / errors', 'floor', 'floor req/s', 'ratio', 'target', 'result', 'server cores'];

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
      `bound ${fmtRate(a.boundPerSecond)}`,
      `${fmtMs(a.medianMs)} (median of ${a.runs})`,
      '—',
      '—',
      `bound = ${CORES} cores ÷ ${fmtMs(a.medianMs)} ms; min ${fmtMs(a.minMs)} ms; ${CORES} verifies in flight: ${fmtRate(a.parallelPerSecond)}/s`,
    ]);
  });

  const rssRows = (
    [
      ['after start-up', res.rss.started],
      ['after setup (100 users, 1 000 sessions)', res.rss.afterSetup],
      ['at the end of the load', res.rss.endOfLoad],
      [`after ${res.sessions.toLocaleString('en-US')} sessions exist`, res.rss.afterSessions],
      [`after the run (server idle, ${res.rss.idleAfterMs} ms later)`, res.rss.final],
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
    '## Targets (issue 6)',
    '',
    ...verdicts.map((v) => `- ${v.note ? 'NOTE' : v.pass ? 'PASS' : '**FAIL**'}: ${v.what}`),
    '',
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
  const txtVerdicts = verdicts.map((v) => `  ${v.note ? 'NOTE' : v.pass ? 'PASS' : 'FAIL'} ${v.what}`).join('\n');
  const txtRev = rev
    ? `\n  ${revPass ? 'PASS' : 'FAIL'} revocation delay over ${rev.logouts} logouts (logout answered -> resource server refuses): median ${fmtMs(rev.medianMs)} ms, p99 ${fmtMs(rev.p99Ms)} ms, max ${fmtMs(rev.maxMs)} ms (target p99 < 1 s)\n`
    : '';
  return { markdown: md.join('\n'), table: `${txt}\n\n${txtFloors}\n${txtRss}\n\n${txtVerdicts}\n${txtRev}` };
}
