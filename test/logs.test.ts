import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { LineClient, spawnNode, spawnProxy, tempDir, until } from './helpers/cluster.js';

type Teardown = (fn: () => unknown) => void;

/** A proxy and two real node processes; `dirs` maps each node id to its DATA_DIR. */
async function cluster(tt: { teardown: Teardown }, env: Record<string, string> = {}) {
  const proxy = await spawnProxy(tt.teardown, tempDir(tt.teardown));
  const dirs: Record<string, string> = { a: tempDir(tt.teardown), b: tempDir(tt.teardown) };
  const nodes: Record<string, { port: number; pid: number }> = {};
  for (const id of ['a', 'b']) {
    const n = await spawnNode(tt.teardown, proxy.port, dirs[id] as string, {
      NODE_ID: id,
      EXEC_ALLOW: 'sh,seq,cat,pwd',
      ...env,
    });
    nodes[id] = { port: n.port, pid: n.proc.child.pid as number };
  }
  const client = async (id: string) => LineClient.connect(nodes[id]?.port as number, tt.teardown);
  return { dirs, nodes, client };
}

const json = (line: string) => JSON.parse(line.replace(/^OK /, '')) as Record<string, unknown>;
const other = (node: unknown) => (node === 'a' ? 'b' : 'a');

async function submit(c: LineClient, line: string): Promise<string> {
  const r = await c.ask(line);
  if (!r.startsWith('OK ')) throw new Error(`${line} -> ${r}`);
  return r.slice(3);
}

/** Reads `OK <n>` and its n lines. */
async function multi(c: LineClient, line: string): Promise<string[]> {
  const head = await c.ask(line);
  const m = /^OK (\d+)$/.exec(head);
  if (!m) throw new Error(`${line} -> ${head}`);
  const out: string[] = [];
  for (let i = 0; i < Number(m[1]); i++) out.push((await c.next()) as string);
  return out;
}

t.test('exec as people type it: shell words, env, cwd, stdin, numbers', async (t) => {
  const { client } = await cluster(t);
  const c = await client('a');
  const failed = await submit(c, 'SUBMIT exec sh -c "echo hi; exit 3"');
  const r = json(await c.ask(`WAIT ${failed}`));
  t.match(r, { state: 'failed', exitCode: 3, output: 'hi\n', error: 'exit code 3' });

  const quoted = await submit(c, `SUBMIT exec sh -c 'printf "[%s]" "$@"' x 'a b' "c\\"d" e\\ f`);
  t.equal(json(await c.ask(`WAIT ${quoted}`)).output, '[a b][c"d][e f]');

  t.match(await c.ask('SUBMIT exec sh -c "echo hi'), /^ERR BAD_REQUEST .*unterminated " quote/);
  t.match(await c.ask("SUBMIT echo it's"), /^ERR BAD_REQUEST .*unterminated ' quote/);

  const spaced = await submit(c, 'SUBMIT echo hello   world');
  t.equal(json(await c.ask(`WAIT ${spaced}`)).output, 'hello   world', 'typed text as typed');
  const echoQuoted = await submit(c, 'SUBMIT echo "a  b"   c');
  t.equal(json(await c.ask(`WAIT ${echoQuoted}`)).output, 'a  b c', 'as a shell echo prints it');

  const spec = {
    type: 'exec',
    args: ['sh', '-c', 'echo "$1 $2 $GREETING"; pwd; cat', 'sh', 42, 1.5],
    env: { GREETING: 'hello' },
    cwd: '/usr',
    stdin: 'from stdin\n',
  };
  const full = await submit(c, `SUBMIT ${JSON.stringify(spec)}`);
  t.match(json(await c.ask(`WAIT ${full}`)), {
    state: 'done',
    output: '42 1.5 hello\n/usr\nfrom stdin\n',
  });
  t.match(
    await c.ask('SUBMIT {"type":"exec","args":["pwd"],"cwd":"tmp"}'),
    /^ERR BAD_REQUEST cwd: cwd is an absolute path/,
  );
  const missing = await submit(c, 'SUBMIT {"type":"exec","args":["pwd"],"cwd":"/no/such"}');
  t.match(json(await c.ask(`WAIT ${missing}`)), {
    state: 'failed',
    error: 'cwd /no/such does not exist on this node',
  });
});

t.test(
  'a long output: the result keeps head and tail, LOGS the whole, from any node',
  async (t) => {
    const { client } = await cluster(t, { JOB_OUTPUT_LIMIT: '1000' });
    const a = await client('a');
    const ticket = await submit(a, 'SUBMIT exec seq 1 20000');
    const r = json(await a.ask(`WAIT ${ticket}`));
    const output = r.output as string;
    t.equal(r.state, 'done');
    t.ok(Buffer.byteLength(output) <= 1000, 'the result stays within JOB_OUTPUT_LIMIT');
    t.match(
      output,
      /^1\n2\n3\n[\s\S]*\n\[\.\.\. \d+ bytes dropped \.\.\.\]\n[\s\S]*19999\n20000\n$/,
    );
    t.match(r.error, /clipped.*LOGS/);

    const far = await client(other(r.node));
    const lines = await multi(far, `LOGS ${ticket}`);
    t.equal(lines.length, 20000);
    t.equal(lines[0], '1');
    t.equal(lines[19999], '20000');
    t.same(await multi(far, `LOGS ${ticket} 0`), lines, 'task 0 of a plain job is the job');
    t.match(await far.ask(`LOGS ${ticket} 1`), /^ERR BAD_REQUEST .*only task is 0/);
    t.match(await far.ask(`LOGS ${ticket} x`), /^ERR BAD_REQUEST/);
    t.match(await far.ask('LOGS 01M8N8GFDVEWPNKZDT70DFR54E'), /^ERR NOT_FOUND/);
    const echo = await submit(far, 'SUBMIT echo one two');
    await far.ask(`WAIT ${echo}`);
    t.same(await multi(far, `LOGS ${echo}`), ['one two'], 'a job without a log: its output');
  },
);

t.test('TAIL and LOGS while the job runs, from the node that did not run it', async (t) => {
  const { client } = await cluster(t);
  const gate = join(tempDir(t.teardown), 'go');
  const a = await client('a');
  const script = `echo started; while [ ! -e ${gate} ]; do sleep 0.05; done; echo "after the gate"; printf "no newline"`;
  const ticket = await submit(a, `SUBMIT exec sh -c '${script}'`);
  const running = await until(async () => {
    const v = json(await a.ask(`RESULT ${ticket}`));
    return v.state === 'running' && v.node ? v : null;
  });
  const far = await client(other(running.node));
  // a run started at its origin shows there at once; the proxy hears of it a moment later
  await until(async () => json(await far.ask(`RESULT ${ticket}`)).state === 'running');
  const tail = await client(other(running.node));
  tail.write(`TAIL ${ticket}\n`);
  t.equal(await tail.next(), '> started', 'the first line arrives while the job still runs');
  t.same(await multi(far, `LOGS ${ticket}`), ['started'], 'LOGS gives the output so far');
  t.equal(json(await far.ask(`RESULT ${ticket}`)).state, 'running');
  writeFileSync(gate, '');
  t.equal(await tail.next(), '> after the gate');
  t.equal(await tail.next(), '> no newline');
  const final = json((await tail.next()) as string);
  t.match(final, { ticket, state: 'done', output: 'started\nafter the gate\nno newline' });
  t.equal(await tail.ask('PING'), 'OK PONG', 'the connection goes on after TAIL');
  const local = await client(running.node as string);
  local.write(`TAIL ${ticket}\n`);
  t.same(
    [await local.next(), await local.next(), await local.next()],
    ['> started', '> after the gate', '> no newline'],
  );
  t.match(json((await local.next()) as string), { state: 'done' });
});

/** The lines a TAIL gives until its final `OK <json>` line, and that line. */
async function tailed(c: LineClient, n: number): Promise<string[]> {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push((await c.next()) as string);
  return lines;
}

/** Lines of one stream in `lines` of LOGS/TAIL `streams`, their marks taken off. */
const ofStream = (lines: string[], mark: '>' | '2>') =>
  lines.filter((l) => l.startsWith(`${mark} `)).map((l) => l.slice(mark.length + 1));

t.test('LOGS and TAIL with streams keep stdout and stderr apart, on every node', async (t) => {
  const { client } = await cluster(t);
  const gate = join(tempDir(t.teardown), 'go');
  const a = await client('a');
  const script = `echo out1; echo err1 >&2; while [ ! -e ${gate} ]; do sleep 0.05; done; printf part; echo err2 >&2; echo ial`;
  const ticket = await submit(a, `SUBMIT exec sh -c '${script}'`);
  const running = await until(async () => {
    const v = json(await a.ask(`RESULT ${ticket}`));
    return v.state === 'running' && v.node ? v : null;
  });
  const ran = running.node as string;
  const nodes = [ran, other(ran)];
  const tails: Record<string, LineClient> = {};
  const plain = await client(other(ran));
  plain.write(`TAIL ${ticket}\n`);
  for (const id of nodes) {
    tails[id] = await client(id);
    tails[id].write(`TAIL ${ticket} streams\n`);
  }
  for (const id of nodes) {
    const first = await tailed(tails[id] as LineClient, 2);
    t.same(
      first.sort(),
      ['2> err1', '> out1'],
      `TAIL streams on ${id === ran ? 'the' : 'another'} node, while it runs`,
    );
    const c = await client(id);
    t.same((await multi(c, `LOGS ${ticket} streams`)).sort(), ['2> err1', '> out1']);
    t.same((await multi(c, `LOGS ${ticket}`)).sort(), ['err1', 'out1'], 'LOGS as it always was');
  }
  t.same((await tailed(plain, 2)).sort(), ['> err1', '> out1'], 'TAIL as it always was');
  writeFileSync(gate, '');
  for (const id of nodes) {
    const rest = await tailed(tails[id] as LineClient, 3);
    t.same(ofStream(rest, '>'), ['partial'], 'a line split by a write to stderr stays whole');
    t.same(ofStream(rest, '2>'), ['err2']);
    t.match(json(rest[2] as string), { ticket, state: 'done' });
    const c = await client(id);
    const all = await multi(c, `LOGS ${ticket} streams`);
    t.same(
      [ofStream(all, '>'), ofStream(all, '2>')],
      [
        ['out1', 'partial'],
        ['err1', 'err2'],
      ],
    );
    t.same(await multi(c, `LOGS ${ticket} 0 STREAMS`), all, 'with the task, in any case');
  }
  const last = await tailed(plain, 3);
  t.same(last.slice(0, 2).sort(), ['> err2', '> partial']);
  t.match(
    await a.ask(`LOGS ${ticket} 0 streams more`),
    /^ERR BAD_REQUEST usage: LOGS <ticket> \[task\] \[streams\]/,
  );
  t.match(await a.ask(`TAIL ${ticket} stderr`), /^ERR BAD_REQUEST task is a task index/);
  const echo = await submit(a, 'SUBMIT echo one two');
  await a.ask(`WAIT ${echo}`);
  t.same(await multi(a, `LOGS ${echo} streams`), ['> one two'], 'output without a log is stdout');
});

t.test('LOGS and TAIL name a task of a job of many tasks', async (t) => {
  const { client } = await cluster(t);
  const a = await client('a');
  const b = await client('b');
  const spec = {
    tasks: [
      { type: 'exec', args: ['sh', '-c', 'echo task zero'] },
      { type: 'exec', args: ['sh', '-c', 'echo task one; echo more'] },
    ],
  };
  const ticket = await submit(a, `SUBMIT ${JSON.stringify(spec)}`);
  t.match(json(await a.ask(`WAIT ${ticket} 30000`, 35_000)), { state: 'done' });
  for (const c of [a, b]) {
    t.same(await multi(c, `LOGS ${ticket} 1`), ['task one', 'more']);
    t.same(await multi(c, `LOGS ${ticket} 0`), ['task zero']);
  }
  t.match(await b.ask(`LOGS ${ticket}`), /^ERR BAD_REQUEST .*has tasks 0-1: name one/);
  t.match(await b.ask(`LOGS ${ticket} 2`), /^ERR BAD_REQUEST/);
  b.write(`TAIL ${ticket} 1\n`);
  t.same([await b.next(), await b.next()], ['> task one', '> more']);
  t.match(json((await b.next()) as string), { ticket, state: 'done' });
});

/** Peak and current resident memory of a process, in bytes. */
function memory(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

t.test('a job printing 100 MB grows neither memory nor disk past the limits', async (t) => {
  const logLimit = 1024 * 1024;
  const { client, nodes, dirs } = await cluster(t, {
    JOB_LOG_LIMIT: String(logLimit),
    SLOTS: '1',
  });
  const before = { a: memory(nodes.a?.pid as number).now, b: memory(nodes.b?.pid as number).now };
  const diskBefore = { a: dirBytes(dirs.a as string), b: dirBytes(dirs.b as string) };
  const c = await client('a');
  const ticket = await submit(
    c,
    `SUBMIT exec sh -c "head -c 100000000 /dev/zero | tr '\\\\0' x; echo; echo THE-END"`,
  );
  const r = json(await c.ask(`WAIT ${ticket} 120000`, 130_000));
  t.equal(r.state, 'done');
  const node = r.node as 'a' | 'b';
  const output = r.output as string;
  t.ok(Buffer.byteLength(output) <= 65536, 'the result keeps at most JOB_OUTPUT_LIMIT');
  t.ok(output.endsWith('x\nTHE-END\n'), 'with the end of the output');
  const grown = memory(nodes[node]?.pid as number).peak - before[node];
  t.ok(grown < 80 * 1024 * 1024, `peak memory grew ${Math.round(grown / 1048576)} MiB`);
  const log = join(dirs[node] as string, 'logs', `${ticket}.log`);
  t.ok(existsSync(log));
  const size = statSync(log).size;
  t.ok(size > logLimit && size < logLimit + 200, `the log holds the limit and a note (${size})`);
  const disk = dirBytes(dirs[node] as string) - diskBefore[node];
  t.ok(disk < logLimit + 1024 * 1024, `the data directory grew ${disk} bytes`);
  const lines = await multi(c, `LOGS ${ticket}`);
  t.equal(lines.length, 2);
  t.equal(lines[0]?.length, logLimit);
  t.match(
    lines[1],
    /^\[\.\.\. 98951433 more bytes not kept: JOB_LOG_LIMIT is 1048576 bytes \.\.\.\]$/,
  );
});
