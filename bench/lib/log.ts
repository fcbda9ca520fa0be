/** The bench's progress lines, on stderr, with the seconds since the run started. */
const t0 = Date.now();

export function log(msg: string): void {
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

/** Seconds since the run started. */
export const elapsedSeconds = (): number => (Date.now() - t0) / 1000;

export function fmtRate(x: number | null | undefined): string {
  return x == null || Number.isNaN(x) ? '—' : x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1);
}
export function fmtMs(x: number | null | undefined): string {
  return x == null ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}
export function pct(x: number | null | undefined): string {
  return x == null || Number.isNaN(x) ? '—' : `${(x * 100).toFixed(1)} %`;
}
export function mb(x: number | null | undefined): string {
  return x == null ? '—' : `${x.toFixed(1)} MB`;
}
