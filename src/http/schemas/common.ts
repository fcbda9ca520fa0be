/** Shared response schemas: one source for validation, serialization and OpenAPI. */
import { Type } from 'typebox';

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'URN naming the problem, stable for clients to switch on' }),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String({ description: 'A human sentence (FastAPI clients read `.detail`)' }),
    code: Type.String({ description: 'Stable error code, e.g. invalid_credentials' }),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() }), {
        description: 'Present on validation failures',
      }),
    ),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' },
);

export const Message = Type.Object({ message: Type.String() });

export const problemRef = Type.Unsafe<Record<string, unknown>>(Type.Ref('Problem'));

/** Problem responses a route documents, by status. */
export function problems(...statuses: number[]): Record<number, typeof problemRef> {
  return Object.fromEntries(statuses.map((s) => [s, problemRef]));
}
