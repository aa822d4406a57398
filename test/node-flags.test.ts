import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { proxyFlagsOf } from '../bench/cluster.js';
import { PROXY_NODE_FLAGS } from '../shared/node-flags.js';

const root = join(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

t.test('this Node accepts the proxy options, and they size the young generation', (t) => {
  // the heap's ceiling counts the young generation's largest size: read, not provoked (how
  // far the young generation grows under a test's allocations depends on the machine's load)
  const script = "console.log(require('node:v8').getHeapStatistics().heap_size_limit)";
  const limit = (flags: readonly string[]) => {
    const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' });
    t.equal(r.status, 0, `node ${flags.join(' ')} runs (${r.stderr.trim()})`);
    return Number(r.stdout.trim());
  };
  const [withFlags, without] = [limit(PROXY_NODE_FLAGS), limit([])];
  t.ok(withFlags > without, `more room for the young generation (${withFlags} > ${without} bytes)`);
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
