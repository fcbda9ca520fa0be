/** Types of bench/profile-summary.mjs (a plain script, also run on its own). */
/** Markdown summary of a V8 .cpuprofile: self time by package, top functions; `windows` keeps samples within these [start, end] µs spans. */
export function summarize(profile: unknown, top?: number, windows?: Array<[number, number]>): string;
