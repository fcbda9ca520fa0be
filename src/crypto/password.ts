/**
 * Password hashing: argon2id through @node-rs/argon2, on a pool of worker threads below
 * the event loop's priority (crypto/hash-pool.ts, runtime/thread-pool.ts), so a login
 * never blocks the event loop nor delays the requests it serves meanwhile.
 */
import { defaultHashConcurrency, hashPool } from './hash-pool.js';

export { defaultHashConcurrency } from './hash-pool.js';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export interface VerifyResult {
  ok: boolean;
  /** The stored hash uses other parameters (or another scheme): store a fresh one. */
  needsRehash: boolean;
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/;
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;

export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
  /** A bcrypt hash at the cost of the imported ones, while any remain (see setLegacyTiming). */
  private bcryptPad: { cost: number; hash: Promise<string> } | undefined;
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  /**
   * At most `maxConcurrent` hashes run at once (defaultHashConcurrency()).
   */
  constructor(
    private readonly params: Argon2Params,
    private readonly maxConcurrent = defaultHashConcurrency(),
  ) {}

  hash(password: string): Promise<string> {
    return this.limited(() => hashPool().run({ password, params: this.params }, { name: 'hash' }) as Promise<string>);
  }

  private verifyOnPool(storedHash: string, password: string): Promise<boolean> {
    return this.limited(() => hashPool().run({ storedHash, password }, { name: 'verify' }) as Promise<boolean>);
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.maxConcurrent) this.running++;
    // Otherwise wait: a finishing hash hands its slot straight to the next in line.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /**
   * While imported bcrypt hashes remain (`sample` is one of them), a bcrypt check costs far
   * more than an argon2id one (~250 ms against ~15 ms at cost 12), so the time of a failed
   * login would tell an imported account from a native or an unknown one. Then every check
   * pays for both: one argon2id verify and one bcrypt verify at the imported cost, real or
   * dummy. Undefined (none left) turns the padding off.
   */
  setLegacyTiming(sample: string | undefined): void {
    const cost = sample && BCRYPT.test(sample) ? Number(sample.slice(4, 6)) : undefined;
    if (cost === undefined) {
      this.bcryptPad = undefined;
      return;
    }
    if (this.bcryptPad?.cost === cost) return;
    this.bcryptPad = { cost, hash: import('@node-rs/bcrypt').then(({ hash: bcryptHash }) => bcryptHash('gatehouse-dummy-password-for-timing', cost)) };
  }

  async verify(storedHash: string, password: string): Promise<VerifyResult> {
    if (BCRYPT.test(storedHash)) {
      const result = await this.verifyLegacyBcrypt(storedHash, password);
      await this.argon2Dummy(password);
      return result;
    }
    const match = PHC.exec(storedHash);
    if (!match) return { ok: false, needsRehash: false };
    const ok = await this.verifyOnPool(storedHash, password);
    await this.bcryptDummy(password);
    const [, m, t, p] = match;
    const needsRehash =
      Number(m) !== this.params.memoryCost ||
      Number(t) !== this.params.timeCost ||
      Number(p) !== this.params.parallelism;
    return { ok, needsRehash: ok && needsRehash };
  }

  /**
   * Hashes imported from the original FastAPI service (passlib bcrypt). passlib encoded the
   * password as UTF-8 and bcrypt used its first 72 bytes, so the same is done here: every
   * password that worked there works here. A match always asks for a rehash (argon2id).
   */
  private async verifyLegacyBcrypt(storedHash: string, password: string): Promise<VerifyResult> {
    const bytes = Buffer.from(password, 'utf8').subarray(0, 72);
    // The hashing thread loads bcrypt at the first imported hash only: most servers never see one.
    const ok = (await this.limited(() => hashPool().run({ storedHash, password: bytes }, { name: 'verifyBcrypt' }))) as boolean;
    return { ok, needsRehash: ok };
  }

  /**
   * Spends the same time as a real verification and always fails: unknown usernames must
   * not answer faster than wrong passwords.
   */
  async verifyDummy(password: string): Promise<false> {
    await this.argon2Dummy(password);
    await this.bcryptDummy(password);
    return false;
  }

  private async argon2Dummy(password: string): Promise<void> {
    this.dummyHash ??= this.hash('gatehouse-dummy-password-for-timing');
    const dummy = await this.dummyHash;
    await this.verifyOnPool(dummy, password);
  }

  /** The bcrypt half of every check while imported hashes remain; nothing otherwise. */
  private async bcryptDummy(password: string): Promise<void> {
    if (!this.bcryptPad) return;
    const storedHash = await this.bcryptPad.hash;
    await this.limited(() => hashPool().run({ storedHash, password: Buffer.from(password, 'utf8').subarray(0, 72) }, { name: 'verifyBcrypt' }));
  }
}
