// The hashing thread's entry when Gatehouse runs from its TypeScript sources (tests,
// `npm run gatehouse`, `npm run dev`): Node 20 does not pass tsx's loader on to worker
// threads, so it is registered here before the worker module loads. A build
// (dist/crypto/hash-worker.js) never uses this file.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./hash-worker.ts');

export const { hash, verify, verifyBcrypt, thread } = worker;
