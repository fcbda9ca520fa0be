/**
 * Device tokens: issued at every successful password login, presented at the next one
 * (body field `device_token` or the `gatehouse_device` cookie). Their MAC key is made once
 * and shared by every instance through the signing-key store, under an algorithm name of
 * its own, so it is never published in the JWKS nor touched by `keys rotate`.
 */
import { DeviceTokenSigner } from '../crypto/device-token.js';
import { newId, randomSecret } from '../crypto/random.js';
import type { Clock, SigningKeyStore } from './ports.js';

export const DEVICE_KEY_ALG = 'device-hmac';

/** 90 days: a device that has not logged in for a season is a stranger again. */
export const DEVICE_TOKEN_LIFETIME_SECONDS = 90 * 86_400;

export class DeviceTokens {
  private signer: Promise<DeviceTokenSigner> | undefined;

  constructor(
    private readonly store: SigningKeyStore,
    private readonly clock: Clock,
    readonly ttlSeconds: number,
  ) {}

  /** A fresh token for the device (the same device id when it presented a valid one). */
  async issue(userId: number, deviceId?: string): Promise<string> {
    return (await this.key()).issue(userId, this.nowSeconds() + this.ttlSeconds, deviceId);
  }

  /** The device id when `token` is a valid device token of this user, else undefined. */
  async deviceOf(token: string | undefined, userId: number): Promise<string | undefined> {
    return token === undefined ? undefined : (await this.key()).verify(token, userId, this.nowSeconds());
  }

  /** The MAC key: made by the first instance that needs one, then shared through the store. */
  private key(): Promise<DeviceTokenSigner> {
    this.signer ??= this.store
      .ensureActive({
        kid: `device-${newId()}`,
        alg: DEVICE_KEY_ALG,
        publicJwk: {},
        privateJwk: { kty: 'oct', k: randomSecret(32) },
        createdAt: this.clock.now(),
        retiredAt: null,
        expiresAt: null,
      })
      .then((active) => {
        if (typeof active.privateJwk.k !== 'string') throw new Error('the stored device-token key has no secret');
        return new DeviceTokenSigner(Buffer.from(active.privateJwk.k, 'base64url'));
      })
      .catch((error: unknown) => {
        this.signer = undefined; // a database outage must not stick
        throw error;
      });
    return this.signer;
  }

  private nowSeconds(): number {
    return Math.floor(this.clock.now().getTime() / 1000);
  }
}
