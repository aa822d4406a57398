import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

const root = fileURLToPath(new URL('..', import.meta.url));

t.test('petrel/client is exported with its types', async (t) => {
  t.ok(existsSync(`${root}dist/client/index.d.ts`), 'declarations are built');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      "const m = await import('petrel/client'); console.log(Object.keys(m).sort().join(','))",
    ],
    { cwd: root },
  );
  t.match(stdout, /\bconnect\b/);
  t.match(stdout, /\bWireError\b/);
  t.match(stdout, /\bClient\b/);
});
