import t from 'tap';
import { hoistGlobalOptions } from '../cli/global-options.js';

t.test('options every command takes may come before its name', async (t) => {
  t.same(hoistGlobalOptions(['--addr', 'h:1', 'ls']), ['ls', '--addr', 'h:1']);
  t.same(hoistGlobalOptions(['--addr=h:1', '--json', 'ls', '--state', 'done']), [
    'ls',
    '--addr=h:1',
    '--json',
    '--state',
    'done',
  ]);
  t.same(hoistGlobalOptions(['--token', 's', 'run', '--', 'sh', '-c', 'x']), [
    'run',
    '--token',
    's',
    '--',
    'sh',
    '-c',
    'x',
  ]);
});

t.test('anything else is left for the parser', async (t) => {
  for (const args of [
    ['ls', '--addr', 'h:1'],
    ['--help'],
    ['--addr', 'h:1'],
    ['--addr', 'h:1', '--version'],
    ['--bogus', 'ls'],
    [],
  ]) {
    t.same(hoistGlobalOptions(args), args, args.join(' ') || '(none)');
  }
});
