// Loader hooks for fail-import.mjs (they run on the loader's thread).
let specifier;
let left = 0;

export function initialize(data) {
  specifier = data?.specifier;
  left = data?.times ?? 0;
}

export async function resolve(requested, context, nextResolve) {
  if (requested === specifier && left > 0) {
    left -= 1;
    throw Object.assign(new Error(`EMFILE: too many open files, open '${requested}' (injected by the test)`), { code: 'EMFILE' });
  }
  return nextResolve(requested, context);
}
