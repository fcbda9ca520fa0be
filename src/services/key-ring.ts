/**
 * The set of signing keys every instance shares through the database. The active key
 * signs; every key not yet expired verifies and is published in the JWKS. The set is
 * re-read every few seconds and whenever an unknown `kid` shows up (rate-limited), so a
 * rotation on one instance reaches all of them within `reloadIntervalMs`.
 */
import type { JWK } from 'jose';
import type { SigningAlgorithm } from '../config/index.js';
import {
  generateSigningKey,
  hmacKey,
  importSigningKey,
  importVerifyKey,
  publicJwkOf,
  type AsymmetricAlgorithm,
  type SignKey,
  type VerifyKey,
} from '../crypto/keys.js';
import type { Clock, SigningKeyRecord, SigningKeyStore } from './ports.js';

interface LoadedKey {
  kid: string;
  verify: VerifyKey;
  publicJwk: JWK;
  expiresAt: number | null;
}

export interface KeyRingOptions {
  algorithm: SigningAlgorithm;
  secretKey: string | undefined;
  /** How long a retired key keeps verifying: the access-token lifetime plus margins. */
  retiredKeyLifetimeMs: number;
  /**
   * How long a rotated-in key is published before it signs: the JWKS cache lifetime
   * (plus the reload interval), so no resource server meets a kid its cached set lacks.
   */
  activationDelayMs: number;
  reloadIntervalMs?: number;
  unknownKidCooldownMs?: number;
}

export const HS256_KID = 'hs256';

/** The JWKS's Cache-Control: `max-age` and `stale-while-revalidate`, in seconds. */
export const JWKS_MAX_AGE_SECONDS = 300;
export const JWKS_STALE_SECONDS = 60;

/** A key that may sign: from `from` until `until` (null: until the next rotation). */
interface Signer {
  kid: string;
  key: SignKey;
  from: number;
  until: number | null;
}

export class KeyRing {
  private signers: Signer[] = [];
  private hmacSigner: { kid: string; key: SignKey } | undefined;
  private verifying = new Map<string, LoadedKey>();
  private loadedAt = 0;
  private lastUnknownKidReload = 0;
  private reloading: Promise<void> | undefined;
  private readonly reloadIntervalMs: number;
  private readonly unknownKidCooldownMs: number;

  private readonly store: SigningKeyStore;
  private readonly options: KeyRingOptions;
  private readonly clock: Clock;

  constructor(deps: { store: SigningKeyStore; options: KeyRingOptions; clock: Clock }) {
    this.store = deps.store;
    this.options = deps.options;
    this.clock = deps.clock;
    this.reloadIntervalMs = deps.options.reloadIntervalMs ?? 5_000;
    this.unknownKidCooldownMs = deps.options.unknownKidCooldownMs ?? 1_000;
  }

  get isSymmetric(): boolean {
    return this.options.algorithm === 'HS256';
  }

  /** Creates the first key if the database has none for the configured algorithm. */
  async init(): Promise<void> {
    if (this.isSymmetric) {
      const key = hmacKey(this.options.secretKey ?? '');
      this.hmacSigner = { kid: HS256_KID, key };
      this.verifying.set(HS256_KID, { kid: HS256_KID, verify: key, publicJwk: {}, expiresAt: null });
      return;
    }
    const alg = this.options.algorithm as AsymmetricAlgorithm;
    await this.store.ensureActive(toRecord(await generateSigningKey(alg), this.clock.now()));
    await this.reload();
  }

  /**
   * Generates a new key, published at once. It signs from `signsFrom`: after the JWKS
   * cache lifetime, so resource servers have fetched it before they meet a token it
   * signed; until then the current key signs. `now: true` (an emergency: the current key
   * is compromised) signs with it at once, and resource servers with a cached key set
   * refuse its tokens until they refetch. The old key verifies until its tokens expire.
   */
  async rotate(options: { now?: boolean } = {}): Promise<{ kid: string; signsFrom: Date }> {
    if (this.isSymmetric) throw new Error('ALGORITHM=HS256 uses SECRET_KEY; there is no key to rotate');
    const signsFrom = new Date(this.clock.now().getTime() + (options.now ? 0 : this.options.activationDelayMs));
    // The store retires the current key at the new key's createdAt: the hand-over moment.
    const key = toRecord(await generateSigningKey(this.options.algorithm as AsymmetricAlgorithm), signsFrom);
    await this.store.rotate(key, new Date(signsFrom.getTime() + this.options.retiredKeyLifetimeMs));
    await this.reload();
    return { kid: key.kid, signsFrom };
  }

  async signingKey(): Promise<{ kid: string; key: SignKey }> {
    await this.reloadIfStale();
    if (this.hmacSigner) return this.hmacSigner;
    const now = this.clock.now().getTime();
    // The key whose turn it is; between a rotation and its hand-over that is still the old one.
    const current =
      this.signers.find((s) => s.from <= now && (s.until === null || s.until > now)) ??
      this.signers.reduce<Signer | undefined>((earliest, s) => (earliest === undefined || s.from < earliest.from ? s : earliest), undefined);
    if (!current) throw new Error('no active signing key: KeyRing.init() was not called');
    return current;
  }

  /** Resolves a verification key; an unknown kid triggers one (rate-limited) re-read. */
  async verifyKey(kid: string | undefined): Promise<VerifyKey | undefined> {
    if (kid === undefined) return undefined;
    await this.reloadIfStale();
    let found = this.usable(kid);
    if (!found && !this.isSymmetric) {
      const now = Date.now();
      if (now - this.lastUnknownKidReload >= this.unknownKidCooldownMs) {
        this.lastUnknownKidReload = now;
        await this.reload();
        found = this.usable(kid);
      }
    }
    return found?.verify;
  }

  /** The public JWKS; empty for HS256, where nothing may be published. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.reloadIfStale();
    const now = this.clock.now().getTime();
    if (this.isSymmetric) return { keys: [] };
    return {
      keys: [...this.verifying.values()]
        .filter((k) => k.expiresAt === null || k.expiresAt > now)
        .map((k) => k.publicJwk),
    };
  }

  async reload(): Promise<void> {
    if (this.isSymmetric) return;
    // Concurrent callers share one read instead of stampeding the database.
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** Is this kid still one that verifies (published, not expired)? No I/O. */
  isUsable(kid: string): boolean {
    return this.usable(kid) !== undefined;
  }

  private usable(kid: string): LoadedKey | undefined {
    const key = this.verifying.get(kid);
    if (!key) return undefined;
    if (key.expiresAt !== null && key.expiresAt <= this.clock.now().getTime()) return undefined;
    return key;
  }

  private async reloadIfStale(): Promise<void> {
    if (!this.isSymmetric && Date.now() - this.loadedAt >= this.reloadIntervalMs) await this.reload();
  }

  private async load(): Promise<void> {
    const alg = this.options.algorithm as AsymmetricAlgorithm;
    const records = (await this.store.list()).filter((r) => r.alg === alg);
    const next = new Map<string, LoadedKey>();
    const signers: Signer[] = [];
    const now = this.clock.now().getTime();
    for (const record of records) {
      // Keys are immutable once written: reuse what was imported before.
      const known = this.verifying.get(record.kid);
      next.set(record.kid, {
        kid: record.kid,
        verify: known?.verify ?? (await importVerifyKey(record.publicJwk, alg)),
        publicJwk: publicJwkOf(record.publicJwk),
        expiresAt: record.expiresAt?.getTime() ?? null,
      });
      // The current key, and during a staged rotation also the one it hands over to.
      const until = record.retiredAt?.getTime() ?? null;
      if (until === null || until > now) {
        const known = this.signers.find((s) => s.kid === record.kid);
        signers.push({ kid: record.kid, key: known?.key ?? (await importSigningKey(record.privateJwk, alg)), from: record.createdAt.getTime(), until });
      }
    }
    this.verifying = next;
    if (signers.length > 0) this.signers = signers;
    this.loadedAt = Date.now();
  }
}

function toRecord(
  key: Awaited<ReturnType<typeof generateSigningKey>>,
  now: Date,
): SigningKeyRecord {
  return { ...key, createdAt: now, retiredAt: null, expiresAt: null };
}
