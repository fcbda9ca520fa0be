/** Multi-factor authentication endpoints (the contract's "Multi-factor authentication"). */
import { Type } from 'typebox';

const password = Type.String({ minLength: 1, maxLength: 4096 });
const mfaToken = Type.String({ minLength: 1, maxLength: 200, description: 'From the `mfa_required` answer of the password step' });

export const PasswordBody = Type.Object({ password }, { additionalProperties: false });

export const TotpEnrolment = Type.Object(
  {
    factor_id: Type.String(),
    secret: Type.String({ description: 'Base32 seed, for typing into an authenticator app' }),
    otpauth_uri: Type.String({ description: 'otpauth://totp/... for a QR code' }),
  },
  { title: 'TotpEnrolment' },
);

export const TotpActivateBody = Type.Object(
  {
    factor_id: Type.String({ minLength: 1, maxLength: 64 }),
    code: Type.String({ minLength: 1, maxLength: 16, description: 'The 6-digit code the app shows now' }),
  },
  { additionalProperties: false },
);

const recoveryCodes = Type.Array(Type.String(), {
  description: 'Ten single-use recovery codes, shown this once (only their digests are kept)',
});

export const FactorActivated = Type.Object(
  { factor_id: Type.String(), recovery_codes: Type.Optional(recoveryCodes) },
  { title: 'FactorActivated', description: '`recovery_codes` only when this is the first active factor' },
);

export const FactorOut = Type.Object(
  {
    id: Type.String(),
    type: Type.Union([Type.Literal('totp'), Type.Literal('webauthn')]),
    name: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { title: 'Factor' },
);

export const FactorIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const RecoveryCodesOut = Type.Object({ recovery_codes: recoveryCodes }, { title: 'RecoveryCodes' });

export const MfaLoginBody = Type.Object(
  {
    mfa_token: mfaToken,
    code: Type.Optional(Type.String({ maxLength: 16, description: 'The current TOTP code' })),
    recovery_code: Type.Optional(Type.String({ maxLength: 64, description: 'One of the recovery codes (instead of code)' })),
  },
  { additionalProperties: false },
);

/**
 * The browser's JSON of a WebAuthn credential. Its inner `response` is the WebAuthn
 * spec's and may grow members; it is verified by @simplewebauthn/server, never stored.
 */
const credentialJson = (inner: Record<string, ReturnType<typeof Type.String>>, required: string[]) =>
  Type.Object(
    {
      id: Type.String({ minLength: 1, maxLength: 1024 }),
      rawId: Type.String({ minLength: 1, maxLength: 1024 }),
      type: Type.Literal('public-key'),
      response: Type.Object(
        Object.fromEntries(Object.entries(inner).map(([k, v]) => [k, required.includes(k) ? v : Type.Optional(v)])),
        { additionalProperties: true },
      ),
      authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
      clientExtensionResults: Type.Object({}, { additionalProperties: true }),
    },
    { additionalProperties: false },
  );

const b64 = (max: number) => Type.String({ maxLength: max });

export const RegistrationResponse = credentialJson(
  { clientDataJSON: b64(4096), attestationObject: b64(16_384), authenticatorData: b64(16_384), publicKey: b64(4096) },
  ['clientDataJSON', 'attestationObject'],
);

export const AuthenticationResponse = credentialJson(
  { clientDataJSON: b64(4096), authenticatorData: b64(4096), signature: b64(2048), userHandle: b64(1024) },
  ['clientDataJSON', 'authenticatorData', 'signature'],
);

export const WebAuthnRegisterBody = Type.Object(
  { response: RegistrationResponse, name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) },
  { additionalProperties: false },
);

export const WebAuthnLoginOptionsBody = Type.Object({ mfa_token: Type.Optional(mfaToken) }, { additionalProperties: false });

export const WebAuthnLoginBody = Type.Object(
  { response: AuthenticationResponse, mfa_token: Type.Optional(mfaToken) },
  { additionalProperties: false },
);

/** PublicKeyCredentialCreationOptionsJSON / RequestOptionsJSON: passed to the browser as they are. */
export const WebAuthnOptions = Type.Object({ challenge: Type.String() }, { additionalProperties: true, title: 'WebAuthnOptions' });
