/**
 * Keeps the password hasher's timing padding (PasswordHasher.setLegacyTiming) in step with
 * the database: on while any imported bcrypt hash remains, off once the last imported
 * user has logged in (and been rehashed). Re-read at most once a minute, since an import
 * may run in another process, and at once after a bcrypt hash was replaced here.
 */
import type { PasswordHasher } from '../crypto/password.js';
import type { UserStore } from './ports.js';

const RECHECK_MS = 60_000;

export class LegacyHashTiming {
  private checkedAt = Number.NEGATIVE_INFINITY;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly users: UserStore,
    private readonly hasher: PasswordHasher,
  ) {}

  async refreshIfStale(): Promise<void> {
    if (Date.now() - this.checkedAt < RECHECK_MS) return;
    await this.refresh();
  }

  refresh(): Promise<void> {
    // Concurrent logins share one read.
    this.checking ??= this.users
      .anyLegacyHash()
      .then((sample) => {
        this.hasher.setLegacyTiming(sample);
        this.checkedAt = Date.now();
      })
      .finally(() => {
        this.checking = undefined;
      });
    return this.checking;
  }
}
