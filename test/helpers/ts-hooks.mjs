// Module hooks that let tap run the TypeScript tests: each .ts file is transpiled alone by
// esbuild (no type checking: `npm run typecheck` does that), keeping its lines as they are so
// that coverage maps back to them, with an inline source map for stack traces.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { transformSync } from 'esbuild';

/** As tsc compiles the product (tsconfig.json: ES2022, whose class fields are defined). */
const TSCONFIG = { compilerOptions: { target: 'ES2022', useDefineForClassFields: true } };

/** A relative `./x.js` from a TypeScript file names `./x.ts` when only that exists. */
export async function resolve(specifier, context, next) {
  if (
    specifier.endsWith('.js') &&
    (specifier.startsWith('./') || specifier.startsWith('../')) &&
    context.parentURL?.endsWith('.ts')
  ) {
    const ts = new URL(specifier.slice(0, -3) + '.ts', context.parentURL);
    if (!existsSync(new URL(specifier, context.parentURL)) && existsSync(ts)) {
      return { url: ts.href, format: 'module', shortCircuit: true };
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const file = fileURLToPath(url);
  const { code } = transformSync(readFileSync(file, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'es2022',
    sourcemap: 'inline',
    sourcefile: file,
    tsconfigRaw: TSCONFIG,
  });
  return { format: 'module', source: code, shortCircuit: true };
}
