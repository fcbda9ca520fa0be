/** Email verification and password reset bodies. */
import { Type } from 'typebox';

const token = Type.String({ minLength: 1, maxLength: 256, description: 'The token from the mailed link' });
const email = Type.String({ minLength: 3, maxLength: 254 });

export const VerifyRequestBody = Type.Object(
  { email: Type.Optional(Type.Unsafe<string>({ ...email, description: 'Without a Bearer token: the address to send to' })) },
  { additionalProperties: false },
);
export const TokenBody = Type.Object({ token }, { additionalProperties: false });
export const TokenQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 256 })) }, { additionalProperties: false });
export const ForgotBody = Type.Object({ email }, { additionalProperties: false });
export const ResetBody = Type.Object(
  { token, new_password: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);
