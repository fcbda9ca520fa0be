/**
 * One line for a failure the CLI cannot name more precisely: the error's message and then
 * each cause's, each made one line and cut to a readable length. A failed query's reason is
 * in its cause ("canceling statement due to statement timeout"), which its message alone
 * would drop; its own message, which holds the bound values, is not printed (as
 * http/plugins/errors.ts's `loggable` keeps them out of the log). A cause whose words the
 * line already holds is not repeated.
 */
const MAX_PART = 200;
const MAX_CAUSES = 5;

export function describeFailure(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth <= MAX_CAUSES; depth++) {
    let message = (current instanceof Error ? current.message : String(current)).replace(/\s+/g, ' ').trim();
    // Drizzle's "Failed query: <sql> params: <values>" carries the bound values (password and
    // token hashes): say what failed, and let the driver's cause say why.
    if (/^Failed query/.test(message) && current instanceof Error && current.cause !== undefined) message = 'a database query failed';
    // Many errors repeat their cause's words in their own message ("database unavailable: connect ECONNREFUSED …").
    if (!parts.some((part) => part.includes(message))) parts.push(message.length > MAX_PART ? `${message.slice(0, MAX_PART - 1)}…` : message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}
