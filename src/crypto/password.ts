/**
 * Password hashing: argon2id through @node-rs/argon2, whose hash/verify run on the libuv
 * thread pool, so a login never blocks the event loop.
 */
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { availableParallelism } from 'node:os';
import { threadPoolSize } from '../runtime/thread-pool.js';

// Algorithm is an ambient const enum, which verbatimModuleSyntax cannot read at run time.
const ARGON2ID = 2 satisfies Algorithm.Argon2id;

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

/**
 * One hash more than the cores, so a core that finishes a hash finds the next one already
 * running instead of waiting for the event loop to start it (measured on 2 cores: +8-10 %
 * logins per second against one per core). But never every libuv thread: at least one
 * stays free for the signature checks, fsyncs and file I/O of other requests, which
 * would otherwise queue behind 20 ms hashes. With more cores than UV_THREADPOOL_SIZE - 1
 * (4 by default), raise UV_THREADPOOL_SIZE (docs/performance.md).
 */
export function defaultHashConcurrency(cores = availableParallelism(), poolSize = threadPoolSize()): number {
  return Math.max(1, Math.min(cores + 1, poolSize - 1));
}

export class PasswordHasher {
  private dummyHash: Promise<string> | undefined;
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
    return this.limited(() => hash(password, { algorithm: ARGON2ID, ...this.params }));
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

  async verify(storedHash: string, password: string): Promise<VerifyResult> {
    if (BCRYPT.test(storedHash)) return this.verifyLegacyBcrypt(storedHash, password);
    const match = PHC.exec(storedHash);
    if (!match) return { ok: false, needsRehash: false };
    let ok: boolean;
    try {
      ok = await this.limited(() => verify(storedHash, password));
    } catch {
      return { ok: false, needsRehash: false };
    }
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
    // Loaded on the first imported hash only: most servers never see one.
    const { verify: bcryptVerify } = await import('@node-rs/bcrypt');
    const ok = await this.limited(() => bcryptVerify(bytes, storedHash)).catch(() => false);
    return { ok, needsRehash: ok };
  }

  /**
   * Spends the same time as a real verification and always fails: unknown usernames must
   * not answer faster than wrong passwords.
   */
  async verifyDummy(password: string): Promise<false> {
    this.dummyHash ??= this.hash('gatehouse-dummy-password-for-timing');
    const dummy = await this.dummyHash;
    await this.limited(() => verify(dummy, password)).catch(() => false);
    return false;
  }
}
