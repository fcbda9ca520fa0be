// The bench's TOTP users (issue 16): which time steps of each user's factor have been used.
// The server accepts a code from one step either side of its own step, once: with the
// database's replay guard only a step later than the factor's last used one (with Redis,
// any step not used yet). So the steps of a user are used in increasing order: after the
// activation (made with the oldest acceptable step), a user gives two logins at once and one
// more each 30 s. The loads reserve a (user, step) whose code stays valid for `marginMs` from
// now, compute its code with otpauth, and pass the state on through a JSON file (warm-up ->
// measured run -> the next scenario), so no step is ever sent twice or out of order. A user
// is not reserved again while an earlier reservation may still be in flight.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Secret, TOTP } from 'otpauth';

const PERIOD_MS = 30_000;
const stepAt = (ms) => Math.floor(ms / PERIOD_MS);

/** The code of `step` for a base32 secret (RFC 6238, SHA-1, 6 digits, 30 s). */
export function totpCode(secretBase32, step) {
  return TOTP.generate({ secret: Secret.fromBase32(secretBase32), algorithm: 'SHA1', digits: 6, period: 30, timestamp: step * PERIOD_MS });
}

/** { users: [{ username, password, secret }], used: { [index]: step[] }, next } from a file. */
export function loadTotpState(file) {
  const state = JSON.parse(readFileSync(file, 'utf8'));
  state.used ??= {};
  state.next ??= 0;
  // Reservations in flight belong to the load that wrote the file, which has ended.
  state.busyUntil = {};
  return state;
}

export function saveTotpState(file, state) {
  writeFileSync(file, JSON.stringify(state));
}

export const totpStateExists = (file) => existsSync(file);

/** Marks `step` of user `i` used (e.g. the step the activation claimed). */
export function markUsed(state, i, step) {
  (state.used[i] ??= []).push(step);
}

/**
 * The step to activate a factor with: the oldest the server accepts (one before now), so
 * that the two after it are left for logins; the current one when the step ends within 2 s.
 */
export function activationStep(now = Date.now()) {
  return stepAt(now + 2000) === stepAt(now) ? stepAt(now) - 1 : stepAt(now);
}

/**
 * A step of user `i`'s factor not yet used that the server will accept from now until
 * now + marginMs, marked used, with its code; undefined when that user has none left.
 */
export function reserveStepFor(state, i, now = Date.now(), marginMs = 3000) {
  const used = (state.used[i] ??= []);
  const last = used.length ? Math.max(...used) : -Infinity;
  const s = Math.max(stepAt(now + marginMs) - 1, last + 1);
  if (s > stepAt(now) + 1) return undefined;
  state.used[i] = [s];
  (state.busyUntil ??= {})[i] = now + marginMs;
  return { index: i, user: state.users[i], step: s, code: totpCode(state.users[i].secret, s) };
}

/**
 * The next user (round robin) with a usable step (see reserveStepFor); undefined when every
 * user's usable steps are spent (more users are needed, or a wait for the next step).
 */
export function reserveStep(state, now = Date.now(), marginMs = 3000) {
  const n = state.users.length;
  for (let k = 0; k < n; k++) {
    const i = (state.next + k) % n;
    if ((state.busyUntil?.[i] ?? 0) > now) continue;
    const r = reserveStepFor(state, i, now, marginMs);
    if (r) {
      state.next = (i + 1) % n;
      return r;
    }
  }
  return undefined;
}
