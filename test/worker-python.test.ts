import { spawn, spawnSync } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { LineClient, startCluster, until } from './helpers/cluster.js';
import { findProgram } from './helpers/programs.js';

const python = findProgram('python3');
const skip = !python && 'python3 is missing: install it with "apt-get install -y python3"';
const script = fileURLToPath(new URL('../examples/python/petrel_worker.py', import.meta.url));

t.test(
  'the Python example worker serves its type, and moves to the next node',
  { skip },
  async (t) => {
    const { nodes } = await startCluster(t.teardown, 2);
    const [first, second] = nodes.map((n) => `127.0.0.1:${n.clientPort}`);
    const worker = spawn(python!, [script, 'upper', first!, second!], {
      env: { PATH: process.env.PATH ?? '', PETREL_CONCURRENCY: '2' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    t.teardown(() => worker.kill('SIGKILL'));
    let said = '';
    worker.stderr!.setEncoding('utf8').on('data', (d: string) => (said += d));
    await until(() => said.includes(`serving upper on ${first}`), 10_000, 'the worker to register');

    const c = await LineClient.connect(nodes[1]!.clientPort, t.teardown);
    const run = async (spec: object) => {
      const ticket = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
      return JSON.parse((await c.ask(`WAIT ${ticket} 20000`)).slice(3)) as Record<string, unknown>;
    };
    t.match(await run({ type: 'upper', args: ['hello', 'python'] }), {
      state: 'done',
      output: 'HELLO PYTHON',
      node: 'n1',
    });
    t.match(
      await run({ type: 'upper', args: ['two\nlines', 3] }),
      { state: 'done', output: 'TWO\nLINES 3' },
      'an output with a line break goes as a JSON string',
    );
    t.match(
      await run({ type: 'upper', args: [] }),
      { state: 'failed', error: 'upper needs words' },
      'what the handler raises fails the job',
    );

    // its node goes away: the worker serves on the next one
    await nodes[0]!.close();
    await until(() => said.includes(`serving upper on ${second}`), 20_000, 'the next node');
    t.match(await run({ type: 'upper', args: ['again'] }), { state: 'done', output: 'AGAIN' });
    t.notOk(/Traceback/.test(said), 'no Python stack trace');
  },
);

t.test(
  'the Python example worker pings a silent node and leaves one that stays silent',
  { skip },
  async (t) => {
    // a node that took the worker, then froze: it reads every line and answers none
    const heard: string[] = [];
    const sockets = new Set<net.Socket>();
    const frozen = net.createServer((s) => {
      sockets.add(s);
      s.setEncoding('utf8').on('data', (d: string) => {
        heard.push(...d.split('\n').filter(Boolean));
        if (d.startsWith('WORKER ')) s.write('OK worker\n');
      });
      s.on('error', () => {});
    });
    await new Promise<void>((r) => frozen.listen(0, '127.0.0.1', r));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      frozen.close();
    });
    const addr = `127.0.0.1:${(frozen.address() as AddressInfo).port}`;
    const worker = spawn(python!, [script, 'upper', addr], {
      env: { PATH: process.env.PATH ?? '', PETREL_REPLY_TIMEOUT: '0.6s' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    t.teardown(() => worker.kill('SIGKILL'));
    let said = '';
    worker.stderr!.setEncoding('utf8').on('data', (d: string) => (said += d));
    await until(
      () => said.includes('counted as hung; reconnecting'),
      10_000,
      'the worker to leave',
    );
    t.same(heard.slice(0, 2), ['WORKER upper 4', 'PING'], 'registered, then asked after 300 ms');
    await until(() => heard.filter((l) => l.startsWith('WORKER')).length >= 2, 10_000, 'again');
    t.pass('and it registered again');
  },
);

t.test(
  "the Python example worker's output: a JSON string for line breaks, always one line",
  { skip },
  async (t) => {
    const code = [
      'import json, sys',
      `sys.path.insert(0, ${JSON.stringify(dirname(script))})`,
      'import petrel_worker as w',
      "values = ['plain', 'a\\nb', '\"quoted', 'é' * 100000, {'a': 1}]",
      'print(json.dumps([w.output_text(v) for v in values]))',
    ].join('\n');
    const r = spawnSync(python!, ['-B', '-c', code], { encoding: 'utf8' });
    t.equal(r.status, 0, r.stderr);
    const [plain, lines, quoted, long, object] = JSON.parse(r.stdout) as string[];
    t.equal(plain, 'plain', 'as it is');
    t.equal(JSON.parse(lines!), 'a\nb', 'a line break: one JSON string');
    t.equal(JSON.parse(quoted!), '"quoted', 'a leading quote too');
    t.ok(Buffer.byteLength(long!) <= 64 * 1024 - 200, 'a long output fits a line, in bytes');
    t.match(
      JSON.parse(long!),
      /^é+\n\[\.\.\. \d+ characters dropped \.\.\.\]\né+$/,
      'head and tail',
    );
    t.equal(object, '{"a": 1}', 'anything else as JSON');
  },
);

t.test(
  'the Python example worker reads PETREL_REPLY_TIMEOUT as petrel does',
  { skip },
  async (t) => {
    const timeout = (value: string) => {
      const code = [
        `import sys; sys.path.insert(0, ${JSON.stringify(dirname(script))})`,
        'import petrel_worker as w',
        'print(w.REPLY_TIMEOUT)',
      ].join('\n');
      const env = { PATH: process.env.PATH ?? '', PETREL_REPLY_TIMEOUT: value };
      return spawnSync(python!, ['-B', '-c', code], { encoding: 'utf8', env });
    };
    t.equal(timeout('1500').stdout.trim(), '1.5', 'milliseconds');
    t.equal(timeout('2m').stdout.trim(), '120.0', 'a unit');
    t.equal(timeout('').stdout.trim(), '15.0', 'empty: the default');
    t.equal(timeout('0').stdout.trim(), 'None', '0: never');
    const bad = timeout('2x');
    t.equal(bad.status, 64, 'bad usage');
    t.match(bad.stderr, /^petrel worker: PETREL_REPLY_TIMEOUT takes milliseconds/);
  },
);
