import t from 'tap';
import type { Logger } from '../shared/log.js';
import { EtcdWarnings, messageOf } from '../proxy/etcd-warnings.js';
import { freePort, Proc, tempDir } from './helpers/cluster.js';

interface Line {
  level: 'warn' | 'info';
  fields: Record<string, unknown>;
  msg: string;
}

function recorder(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: Record<string, unknown>, msg: string) =>
    lines.push({ level, fields, msg });
  return { log: { warn: at('warn'), info: at('info') } as unknown as Logger, lines };
}

t.test('a failure that repeats is logged when it starts, every interval, and when it ends', (t) => {
  const { log, lines } = recorder();
  let now = 0;
  const w = new EtcdWarnings(log, 10_000, () => now);
  const broken = new Error('Execution prevented because the circuit breaker is open');
  // twice a second for 25 s, as the campaign retries while etcd is away
  for (; now < 25_000; now += 500) w.failed('campaign', broken, 'the etcd campaign failed');
  t.same(
    lines.map((l) => [l.level, l.fields.repeats]),
    [
      ['warn', undefined],
      ['warn', 20],
      ['warn', 20],
    ],
    'three lines for fifty failures, each later one with how many there were',
  );
  t.equal(lines[0]?.fields.error, 'Error: Execution prevented because the circuit breaker is open');
  t.notOk(
    lines.some((l) => 'err' in l.fields || 'stack' in l.fields),
    'no error object, so no stack',
  );
  w.failed('read', broken, 'cannot read who leads');
  t.equal(lines.length, 4, 'another operation has its own state');
  w.ok('campaign', 'etcd answers the campaign again');
  t.same(lines[4], {
    level: 'info',
    fields: { failures: 50 },
    msg: 'etcd answers the campaign again',
  });
  w.ok('campaign', 'etcd answers the campaign again');
  t.equal(lines.length, 5, 'a success after a success says nothing');
  t.ok(w.isFailing('read'));
  w.failed('campaign', broken, 'the etcd campaign failed');
  t.equal(lines.length, 6, 'failing again is a new state, logged at once');
  t.end();
});

t.test('an error is one line', (t) => {
  t.equal(messageOf(new Error('a\n  b\n')), 'Error: a b');
  t.equal(messageOf('plain'), 'plain');
  t.end();
});

t.test('a proxy that cannot reach etcd logs why in one line, without a stack', async (t) => {
  const closed = await freePort(); // nothing listens there: etcd is unreachable
  const p = Proc.start(
    'proxy',
    {
      PROXY_HOST: '127.0.0.1',
      PROXY_PORT: '0',
      DATA_DIR: tempDir(t.teardown),
      ETCD_ENDPOINTS: `http://127.0.0.1:${closed}`,
      PROXY_ADVERTISE_URL: 'ws://127.0.0.1:1/cluster',
    },
    t.teardown,
  );
  const line = await p.waitFor('the etcd campaign failed', 30_000);
  const entry = JSON.parse(line) as Record<string, unknown>;
  t.type(entry.error, 'string', 'the error is named by its message');
  t.notMatch(line, /"stack"|\\n {4}at /, 'no stack trace');
});
