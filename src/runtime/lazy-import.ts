/**
 * A module imported at first use, once: every caller shares the one import. A failed import
 * (a file-descriptor limit, a package being replaced under a running server) is not kept:
 * the next call tries again, so one bad moment does not disable a feature until a restart.
 * Node's loader tries again too (test/http/lazy-modules.test.ts).
 */
export function lazyImport<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}
