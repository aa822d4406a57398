import t from 'tap';
import { commandOf } from '../cli/worker-program.js';
import { resultLine } from '../client/worker.js';

t.test('petrel worker: where the job args go', async (t) => {
  t.same(commandOf(['gzip', '-9'], ['a b', 'c']), ['gzip', '-9', 'a b', 'c'], 'appended');
  t.same(commandOf(['cp', '{}', '/out'], ['a', 'b']), ['cp', 'a', 'b', '/out'], '{} as words');
  t.same(commandOf(['convert', '--in={}'], ['a', 'b']), ['convert', '--in=a b'], '{} in a word');
  t.same(commandOf(['true', '{}'], []), ['true'], 'no args: {} vanishes');
});

t.test('result lines fit the node line limit and keep the text rule', async (t) => {
  const T = '01JAAAAAAAAAAAAAAAAAAAAAA1';
  t.equal(resultLine('DONE', T, 'ok'), `DONE ${T} ok`);
  t.equal(resultLine('DONE', T, ''), `DONE ${T}`);
  t.equal(resultLine('FAIL', T, 'a\nb'), `FAIL ${T} "a\\nb"`);
  const big = resultLine('DONE', T, 'x'.repeat(200_000));
  t.ok(Buffer.byteLength(big) <= 60 * 1024, 'cut to fit');
  t.ok(big.startsWith(`DONE ${T} xxx`));
});
