/** Types of bench/totp-steps.mjs (plain JS: the load generator imports it too). */
export interface TotpUser {
  username: string;
  password: string;
  /** base32 */
  secret: string;
}
export interface TotpState {
  users: TotpUser[];
  used: Record<number, number[]>;
  next: number;
  busyUntil?: Record<number, number>;
}
export function totpCode(secretBase32: string, step: number): string;
export function loadTotpState(file: string): TotpState;
export function saveTotpState(file: string, state: TotpState): void;
export function totpStateExists(file: string): boolean;
export function activationStep(now?: number): number;
export function markUsed(state: TotpState, index: number, step: number): void;
export function reserveStepFor(state: TotpState, index: number, now?: number, marginMs?: number): { index: number; user: TotpUser; step: number; code: string } | undefined;
export function reserveStep(state: TotpState, now?: number, marginMs?: number): { index: number; user: TotpUser; step: number; code: string } | undefined;
