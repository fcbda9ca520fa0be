/** One error type for every non-2xx answer; network failures stay the runtime's TypeError. */
export class GatehouseError extends Error {
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** The problem's `code` (or an OAuth `error`), e.g. `invalid_token`, `mfa_required`. */
    readonly code: string | undefined,
    message: string,
    /** The parsed body, when it was JSON. */
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'GatehouseError';
  }
}

export async function errorFrom(res: Response): Promise<GatehouseError> {
  let body: Record<string, unknown> | undefined;
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    body = undefined;
  }
  const text = (k: string) => (typeof body?.[k] === 'string' ? (body[k] as string) : undefined);
  return new GatehouseError(
    res.status,
    text('code') ?? text('error'),
    text('detail') ?? text('error_description') ?? `HTTP ${res.status}`,
    body,
  );
}
