#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`) as markdown: self time by package
// or file, the top functions by self time, and the top functions by inclusive time.
// Used by bench/run.mjs --cpu-prof; also on its own: node bench/profile-summary.mjs FILE [N]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

function shortUrl(url) {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

function category(frame) {
  const { functionName, url } = frame;
  if (!url) {
    if (functionName === '(idle)' || functionName === '(garbage collector)' || functionName === '(program)') return functionName;
    return '(native / V8 builtins)';
  }
  if (url.startsWith('node:')) return 'node: ' + url.slice(5).split('/')[0];
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return 'gatehouse ' + url.slice(dist + 1);
  return url;
}

/**
 * @param windows optional [[startUs, endUs], ...] on the monotonic clock the profile uses
 *   (process.hrtime's): only samples inside them count (the measured runs, not the setup).
 */
export function summarize(profile, top = 25, windows = undefined) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Self time per node from the samples and their time deltas (microseconds).
  const selfUs = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  let t = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    if (windows && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    const dt = timeDeltas[i + 1] ?? 0;
    selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + dt);
  }
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    total += us;
    if (nodes.get(id).callFrame.functionName === '(idle)') idle += us;
  }
  const busy = total - idle;
  const key = (f) => `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;

  const byCat = new Map();
  const byFn = new Map();
  const incl = new Map();
  for (const [id, us] of selfUs) {
    const f = nodes.get(id).callFrame;
    byCat.set(category(f), (byCat.get(category(f)) ?? 0) + us);
    byFn.set(key(f), (byFn.get(key(f)) ?? 0) + us);
    if (f.functionName === '(idle)') continue;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(nodes.get(cur).callFrame);
      if (k.startsWith('(root)')) continue;
      if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + us); }
    }
  }
  const ms = (us) => (us / 1000).toFixed(0);
  const share = (us) => `${((us / busy) * 100).toFixed(1)} %`;
  const table = (title, map, n) => [
    `| ${title} | ms | share of busy time |`, '|---|---|---|',
    ...[...map].filter(([k]) => k !== '(idle)' && !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, n)
      .map(([k, us]) => `| \`${k.replace(/\|/g, '\\|')}\` | ${ms(us)} | ${share(us)} |`),
  ].join('\n');
  return [
    `Main thread only (argon2 runs on libuv threads and is not sampled). ${windows ? `Samples inside the ${windows.length} measured run(s) only (set-up and warm-up excluded): ` : ''}${ms(total)} ms sampled, of which ${ms(idle)} ms idle; shares below are of the ${ms(busy)} ms busy.`,
    '',
    '### Self time by package or file',
    '',
    table('package / file', byCat, 20),
    '',
    '### Top functions by self time',
    '',
    table('function', byFn, top),
    '',
    '### Gatehouse\'s own functions (dist/) by inclusive time',
    '',
    table('function', new Map([...incl].filter(([k]) => / dist\//.test(k))), top),
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, n] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node bench/profile-summary.mjs FILE.cpuprofile [N]');
    process.exit(2);
  }
  console.log(summarize(JSON.parse(readFileSync(file, 'utf8')), Number(n ?? 25)));
}
