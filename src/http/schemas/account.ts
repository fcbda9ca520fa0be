/** Sessions and account endpoints (the contract's "Sessions and account"). */
import { Type } from 'typebox';

export const SessionOut = Type.Object(
  {
    id: Type.String(),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.String({ format: 'date-time' }),
    user_agent: Type.Union([Type.String(), Type.Null()]),
    ip: Type.Union([Type.String(), Type.Null()]),
    current: Type.Boolean({ description: 'The session of the token making this request' }),
    amr: Type.Array(Type.String(), {
      description: 'How the session authenticated (RFC 8176): `pwd` password, `otp` one-time code, `hwk` passkey, `user` user verified, `mfa` more than one factor',
    }),
    client_id: Type.String({ description: 'The client the session belongs to (`gatehouse:signin` for a browser sign-in at the hosted pages)' }),
    signed_in_clients: Type.Array(Type.String(), { description: 'For a browser sign-in: the OpenID Connect clients it signed in to' }),
  },
  { title: 'Session' },
);

export const SessionIdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

export const PasswordChangeBody = Type.Object(
  {
    current_password: Type.String({ minLength: 1, maxLength: 4096 }),
    new_password: Type.String({ minLength: 1, maxLength: 4096 }),
  },
  { additionalProperties: false },
);

export const DeleteMeBody = Type.Object({ password: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false });
