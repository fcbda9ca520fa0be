// `node --import ./test/helpers/fail-import.mjs ...`: the first FAIL_IMPORT_TIMES (default 1)
// resolutions of the package FAIL_IMPORT fail with EMFILE, as they would when the process has
// run out of file descriptors; later ones resolve normally. test/http/lazy-modules.test.ts
// uses it to see what a failed lazy import does to a request and to the next one.
import { register } from 'node:module';

register(new URL('./fail-import-hooks.mjs', import.meta.url), {
  data: { specifier: process.env.FAIL_IMPORT, times: Number(process.env.FAIL_IMPORT_TIMES ?? 1) },
});
