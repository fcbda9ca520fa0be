// `node --import ./test/helpers/module-log.mjs ...`: appends the URL of every module the
// process resolves through the ES module loader to the file named by MODULE_LOG, one a
// line. test/cli.test.ts uses it to see which packages a command loads.
import { register } from 'node:module';

register(new URL('./module-log-hooks.mjs', import.meta.url), { data: { file: process.env.MODULE_LOG } });
