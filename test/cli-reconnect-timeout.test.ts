import net from 'node:net';
import { Command } from 'commander';
import t, { type Test } from 'tap';
import { common, type CommonOptions } from '../cli/context.js';
import { hoistGlobalOptions } from '../cli/global-options.js';
import { DEFAULT_RECONNECT_TIMEOUT_MS } from '../client/client.js';
import { until } from './helpers/cluster.js';
import { onLines } from './helpers/line-server.js';
import { petrel, spawnPetrel, type CliRun } from './helpers/petrel-cli.js';
import { within } from './helpers/settle.js';

const TICKET = '01M8N8GPXM6C8T3FQY2ECZ0VBG';

/**
 * A fake node on 127.0.0.1, port 0, that greets as a node does (`PING` -> `OK PONG`) and goes
 * away at the first call: its connections are cut and its port closed, so the call is left to
 * the client's reconnecting, which finds no node.
 */
async function vanishingNode(
  teardown: (fn: () => unknown) => void,
): Promise<{ addr: string; gone: () => boolean }> {
  const sockets = new Set<net.Socket>();
  let gone = false;
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onLines(s, (line) => {
      if (line === 'PING') return void s.write('OK PONG\n');
      gone = true;
      srv.close();
      for (const c of sockets) c.destroy();
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const addr = `127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  teardown(() => {
    for (const s of sockets) s.destroy();
    srv.close();
  });
  return { addr, gone: () => gone };
}

/** The one line of a refusal for lack of a node. */
function assertUnavailable(t: Test, r: CliRun) {
  t.equal(r.code, 69, r.stderr);
  t.match(
    r.stderr,
    new RegExp(`^petrel: ${TICKET}: no node answers at 127\\.0\\.0\\.1:\\d+ \\(\\w`),
  );
  t.equal(r.stderr.trim().split('\n').length, 1, 'one line');
}

t.test('--reconnect-timeout: a call whose node went away fails after it, exit 69', async (t) => {
  // by default the call keeps trying for 30 s: this one is still running when the other ends
  const slow = await vanishingNode(t.teardown);
  const waiting = spawnPetrel(['status', TICKET, '--addr', slow.addr], { teardown: t.teardown });
  await until(slow.gone, 10_000, 'the default run to lose its node');
  const quick = await vanishingNode(t.teardown);
  const args = ['--reconnect-timeout', '300', 'status', TICKET, '--addr', quick.addr];
  const r = await within(spawnPetrel(args, { teardown: t.teardown }).done, 20_000, 'petrel status');
  t.ok(quick.gone(), 'the node went away during the call');
  assertUnavailable(t, r);
  t.equal(waiting.child.exitCode, null, 'without the option, the call still tries');
});

t.test('PETREL_RECONNECT_TIMEOUT sets it too; 0 fails at once', async (t) => {
  for (const ms of ['300', '0']) {
    const node = await vanishingNode(t.teardown);
    const run = spawnPetrel(['status', TICKET, '--addr', node.addr], {
      env: { PETREL_RECONNECT_TIMEOUT: ms },
      teardown: t.teardown,
    });
    const r = await within(run.done, 20_000, `PETREL_RECONNECT_TIMEOUT=${ms}`);
    t.ok(node.gone(), `${ms}: the node went away during the call`);
    assertUnavailable(t, r);
  }
});

t.test('--reconnect-timeout takes a duration from 0', async (t) => {
  const runs: Array<[string, Promise<CliRun>]> = [
    ['-1', petrel(['status', TICKET, '--reconnect-timeout', '-1'])],
    ['abc', petrel(['status', TICKET, '--reconnect-timeout=abc'])],
    ['1.5', petrel(['--reconnect-timeout', '1.5', 'status', TICKET])],
    ['env -1', petrel(['status', TICKET], { env: { PETREL_RECONNECT_TIMEOUT: '-1' } })],
  ];
  for (const [what, run] of runs) {
    const r = await run;
    t.equal(r.code, 64, `${what}: usage`);
    const [line, ...rest] = r.stderr.trim().split('\n');
    t.match(
      line,
      /^error: .*--reconnect-timeout takes milliseconds \(1500\) or a number with a unit \(500ms, 2s, 1\.5m, 2h, 1d\)$/,
      `${what}: why`,
    );
    t.same(rest, ['(petrel <command> --help for usage)'], `${what}: only the usual pointer`);
  }
});

t.test('--reconnect-timeout comes before the command as the other global options', async (t) => {
  t.same(hoistGlobalOptions(['--reconnect-timeout', '0', 'ls']), [
    'ls',
    '--reconnect-timeout',
    '0',
  ]);
});

t.test('an empty PETREL_RECONNECT_TIMEOUT means the default', async (t) => {
  const saved = process.env.PETREL_RECONNECT_TIMEOUT;
  process.env.PETREL_RECONNECT_TIMEOUT = ' ';
  t.teardown(() => {
    if (saved === undefined) delete process.env.PETREL_RECONNECT_TIMEOUT;
    else process.env.PETREL_RECONNECT_TIMEOUT = saved;
  });
  const cmd = common(new Command('x')).exitOverride();
  cmd.action(() => undefined).parse([], { from: 'user' });
  t.equal(cmd.opts<CommonOptions>().reconnectTimeout, DEFAULT_RECONNECT_TIMEOUT_MS);
});
