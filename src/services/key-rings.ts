/**
 * One key ring per signing algorithm in use: the access-token algorithm (ALGORITHM) and
 * the ID-token algorithms OpenID Connect clients registered (RS256 always: OpenID Connect
 * requires it). Every ring shares the signing_keys table, every key of every ring is in
 * the JWKS, and `gatehouse keys rotate` rotates them all. Every ring is a KeyRing on the
 * same sealed store (one key-encryption key) with the same staged rotation.
 */
import type { JWK } from 'jose';
import type { SigningAlgorithm } from '../config/index.js';
import type { IdTokenAlgorithm } from '../domain/types.js';
import type { KeyRing } from './key-ring.js';

export const ID_TOKEN_ALGORITHMS: readonly IdTokenAlgorithm[] = ['RS256', 'ES256', 'EdDSA'];

export class KeyRings {
  private readonly rings = new Map<SigningAlgorithm, KeyRing>();
  /** Rings whose first key exists (init() ran): they sign. */
  private readonly initialised = new Map<SigningAlgorithm, Promise<void>>();

  constructor(
    /** The access-token ring, already initialised. */
    readonly access: KeyRing,
    accessAlgorithm: SigningAlgorithm,
    create: (alg: SigningAlgorithm) => KeyRing,
  ) {
    this.rings.set(accessAlgorithm, access);
    this.initialised.set(accessAlgorithm, Promise.resolve());
    for (const alg of ID_TOKEN_ALGORITHMS) if (!this.rings.has(alg)) this.rings.set(alg, create(alg));
  }

  /** Creates the keys of `algorithms` when missing and loads what other instances made. */
  async init(algorithms: readonly IdTokenAlgorithm[]): Promise<void> {
    await Promise.all([...this.rings.entries()].map(([alg, ring]) => (this.initialised.has(alg) ? undefined : ring.reload())));
    await Promise.all(algorithms.map((alg) => this.ensure(alg)));
  }

  /** The ring that signs ID tokens with `alg`, its first key made on first use. */
  async idTokenRing(alg: IdTokenAlgorithm): Promise<KeyRing> {
    await this.ensure(alg);
    return this.rings.get(alg)!;
  }

  private ensure(alg: IdTokenAlgorithm): Promise<void> {
    let done = this.initialised.get(alg);
    if (!done) {
      done = this.rings.get(alg)!.init();
      this.initialised.set(alg, done);
      done.catch(() => this.initialised.delete(alg));
    }
    return done;
  }

  /** Every public key of every algorithm (a kid appears once). */
  async jwks(): Promise<{ keys: JWK[] }> {
    const sets = await Promise.all([...new Set(this.rings.values())].map((ring) => ring.jwks()));
    const seen = new Set<string>();
    const keys: JWK[] = [];
    for (const key of sets.flatMap((s) => s.keys)) {
      if (key.kid !== undefined && seen.has(key.kid)) continue;
      if (key.kid !== undefined) seen.add(key.kid);
      keys.push(key);
    }
    return { keys };
  }

  /**
   * Rotates the access ring and every ring that has a key, each as KeyRing.rotate does:
   * the new keys are published at once and sign after the activation delay, or at once
   * with `now` (an emergency). Returns each new key with its algorithm.
   */
  async rotateAll(options: { now?: boolean } = {}): Promise<Array<{ alg: SigningAlgorithm; kid: string; signsFrom: Date }>> {
    const rotated: Array<{ alg: SigningAlgorithm; kid: string; signsFrom: Date }> = [];
    for (const [alg, ring] of this.rings) {
      if (ring.isSymmetric) continue;
      if (ring !== this.access) {
        await ring.reload();
        if ((await ring.jwks()).keys.length === 0) continue;
        await this.ensure(alg as IdTokenAlgorithm);
      }
      rotated.push({ alg, ...(await ring.rotate(options)) });
    }
    return rotated;
  }
}
