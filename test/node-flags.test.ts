import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { proxyFlagsOf } from '../bench/cluster.js';
import { PROXY_NODE_FLAGS } from '../shared/node-flags.js';

const root = join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

t.test('this Node accepts the proxy options, and they size the young generation', (t) => {
  const script =
    "const v8 = require('node:v8'); const keep = []; " +
    'for (let i = 0; i < 2e6; i++) { keep.push({ i }); if (keep.length > 4e5) keep.length = 0; } ' +
    "console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)";
  const size = (flags: readonly string[]) => {
    const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' });
    t.equal(r.status, 0, `node ${flags.join(' ')} runs (${r.stderr.trim()})`);
    return Number(r.stdout.trim());
  };
  // a young generation pressed to grow stops at the default's ceiling without the options
  t.ok(size(PROXY_NODE_FLAGS) > size([]), 'more room for the young generation');
  t.end();
});

t.test('the image and npm start give the proxy PROXY_NODE_FLAGS', async (t) => {
  const entry = /^ENTRYPOINT (.*)$/m.exec(read('Dockerfile.proxy'))?.[1];
  t.same(JSON.parse(entry ?? 'null'), ['node', ...PROXY_NODE_FLAGS, 'dist/proxy/main.js'], 'image');
  const launcher = read('scripts/local-cluster.ts');
  const call = launcher.slice(launcher.indexOf("run(\n  'proxy',"));
  t.match(call.slice(0, call.indexOf('\n);')), /PROXY_NODE_FLAGS/, 'npm start');
  // the benchmark reads them from the build it runs: this one's, and none from an older one
  t.same(await proxyFlagsOf(join(root, 'proxy', 'main.ts')), [], 'a build without the file');
  t.same(
    await proxyFlagsOf(join(root, 'dist', 'proxy', 'main.js')),
    PROXY_NODE_FLAGS,
    'this build',
  );
});
