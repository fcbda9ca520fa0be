/**
 * The TOTP replay guard: a (factor, time step) accepted once is refused afterwards, on
 * every instance. With Redis, one SET NX per code (it expires once the step has left the
 * acceptance window); without it, the database keeps each factor's last accepted step
 * and accepts only later ones (RFC 6238 §5.2).
 */
import { TOTP_PERIOD_SECONDS, TOTP_WINDOW } from '../crypto/totp.js';
import type { OtpReplayGuard, TransactionStores } from '../services/ports.js';
import type { RedisClient } from './redis/client.js';

/** A step stays acceptable for the window on either side of it, plus one step of slack. */
const REMEMBER_MS = (2 * TOTP_WINDOW + 2) * TOTP_PERIOD_SECONDS * 1000;

export class RedisOtpReplayGuard implements OtpReplayGuard {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async reserve(factorId: string, step: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}${factorId}:${step}`, '1', 'PX', REMEMBER_MS, 'NX')) === 'OK';
  }

  /** Taken in reserve already; the factor's last use is dated with the step. */
  async record(tx: TransactionStores, factorId: string, _step: number, now: Date): Promise<boolean> {
    await tx.mfa.touchFactor(factorId, now);
    return true;
  }
}

export class DatabaseOtpReplayGuard implements OtpReplayGuard {
  /** Nothing shared to take: the transaction's conditional write below decides. */
  reserve(): Promise<boolean> {
    return Promise.resolve(true);
  }

  record(tx: TransactionStores, factorId: string, step: number, now: Date): Promise<boolean> {
    return tx.mfa.recordTotpStep(factorId, step, now);
  }
}
