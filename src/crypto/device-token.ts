/**
 * Device tokens (OWASP "device cookies"): a login from a device that has logged in to the
 * account before proves it with this token, and is then counted against that device
 * alone. Stateless: `ghd_<user id>.<device id>.<exp>.<HMAC-SHA256>`, so checking one costs
 * no I/O and nothing is stored per device.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomSecret } from './random.js';

export const DEVICE_TOKEN_PREFIX = 'ghd_';

const SHAPE = /^ghd_(\d{1,15})\.([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

export class DeviceTokenSigner {
  constructor(private readonly key: Buffer) {}

  /** A token for this device of this user, valid until `exp` (seconds); a new device id unless given. */
  issue(userId: number, exp: number, deviceId: string = randomSecret(16)): string {
    const body = `${userId}.${deviceId}.${exp}`;
    return `${DEVICE_TOKEN_PREFIX}${body}.${this.mac(body)}`;
  }

  /** The device id of a valid, unexpired token for exactly this user; undefined otherwise. */
  verify(token: string, userId: number, nowSeconds: number): string | undefined {
    const match = SHAPE.exec(token);
    if (!match) return undefined;
    const [, user, deviceId, exp, mac] = match as unknown as [string, string, string, string, string];
    const expected = Buffer.from(this.mac(`${user}.${deviceId}.${exp}`));
    // The MAC first, in constant time; then what it vouches for.
    if (!timingSafeEqual(Buffer.from(mac), expected)) return undefined;
    if (Number(user) !== userId || Number(exp) <= nowSeconds) return undefined;
    return deviceId;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(`gatehouse device token\0${body}`).digest('base64url');
  }
}
