import t from 'tap';
import { parseOptions } from '../bench/options.js';

t.test('--build names the other checkout whose proxy and nodes are measured', async (t) => {
  const o = parseOptions(['--quick', '--only', 'peers', '--build', '/tmp/older'], 'out.json');
  t.same(o?.build, {
    proxy: '/tmp/older/dist/proxy/main.js',
    node: '/tmp/older/dist/node/main.js',
  });
  t.equal(parseOptions(['--quick'], 'out.json')?.build, undefined, 'this checkout by default');
  t.throws(() => parseOptions(['--bogus'], 'out.json'), 'an unknown flag is refused');
});
