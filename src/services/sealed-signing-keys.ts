/**
 * The signing-key store as the services use it: private keys are sealed (AES-256-GCM,
 * crypto/key-encryption.ts) on the way in and opened on the way out, so every key the
 * database holds is encrypted, and nothing above this sees a sealed one.
 */
import type { JWK } from 'jose';
import { isSealed, openJwk, sealJwk } from '../crypto/key-encryption.js';
import type { SigningKeyRecord, SigningKeyStore } from './ports.js';

export class SealedSigningKeyStore implements SigningKeyStore {
  private sealing: Promise<number> | undefined;

  constructor(
    private readonly inner: SigningKeyStore,
    private readonly kek: Buffer,
  ) {}

  /** Keys an earlier version stored in clear are sealed before the first use of this store. */
  private sealedOnce(): Promise<number> {
    this.sealing ??= this.sealPlaintextKeys();
    return this.sealing;
  }

  /** Seals the keys stored in clear by an earlier version; returns how many. */
  async sealPlaintextKeys(): Promise<number> {
    let sealed = 0;
    for (const record of await this.inner.list()) {
      if (isSealed(record.privateJwk)) continue;
      if (await this.inner.replacePrivateJwk(record.kid, record.privateJwk, sealJwk(this.kek, record.kid, record.privateJwk) as unknown as JWK)) sealed++;
    }
    return sealed;
  }

  async list(): Promise<SigningKeyRecord[]> {
    await this.sealedOnce();
    return (await this.inner.list()).map((record) => this.open(record));
  }

  async ensureActive(key: SigningKeyRecord): Promise<SigningKeyRecord> {
    await this.sealedOnce();
    return this.open(await this.inner.ensureActive(this.seal(key)));
  }

  async rotate(key: SigningKeyRecord, retiredExpiresAt: Date): Promise<void> {
    await this.sealedOnce();
    return this.inner.rotate(this.seal(key), retiredExpiresAt);
  }

  replacePrivateJwk(): Promise<boolean> {
    throw new Error('sealed keys are replaced only by sealPlaintextKeys');
  }

  private seal(record: SigningKeyRecord): SigningKeyRecord {
    // Stored as JSON like any JWK; only this class ever reads it back.
    return { ...record, privateJwk: sealJwk(this.kek, record.kid, record.privateJwk) as unknown as JWK };
  }

  private open(record: SigningKeyRecord): SigningKeyRecord {
    // A key still in clear (written by an older version before sealPlaintextKeys ran) reads as is.
    return isSealed(record.privateJwk) ? { ...record, privateJwk: openJwk(this.kek, record.kid, record.privateJwk) } : record;
  }
}
