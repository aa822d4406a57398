import t from 'tap';
import { parseFrame } from '../shared/protocol.js';
import type { PetrelNode } from '../node/node.js';
import { freePort, spawnProxy, startNode, tempDir, until, type Proc } from './helpers/cluster.js';
import {
  collectGarbageIn,
  fakeResult,
  fuzzSeed,
  heapUsedAfterGc,
  junkLine,
  MB,
  Rand,
  RawLineClient,
  RawNode,
  replyShape,
  type Json,
  type LineKind,
  type Shape,
} from './helpers/fuzz.js';

// A seeded generator throws hostile client lines at a node and hostile frames at the proxy,
// then checks that both still work, remember nothing they should not, and did not grow. The
// proxy is a real process (dist/): if a frame kills it, the test says which, instead of dying
// with it. Replay a failure with FUZZ_SEED=<the printed seed>.
t.setTimeout(240_000);

const LINES = 100_000;
const FRAMES = 5_000;
const LINE_LANES = 6;
const FRAME_LANES = 8;
const BATCH = 250;

const seed = fuzzSeed();

interface Item {
  line: Buffer;
  shape: Shape;
  kind: LineKind | 'valid';
  check?: (reply: string) => string | null;
}

/** Accepted first lines of a one-line reply: anything else is a malformed reply. */
const REPLY_RE =
  /^(OK |ERR (BAD_REQUEST|UNKNOWN_COMMAND|NOT_FOUND|UNAUTHORIZED|FORBIDDEN|TOO_LARGE|BUSY|TIMEOUT|UNAVAILABLE) |Ticket ID: [0-9A-Z]{26}$|Result: |Please enter a valid number\.$|Come back later to check your results\.$)/;
const TICKET = '([0-9A-HJKMNP-TV-Z]{26})';

async function api(port: number): Promise<Json> {
  const res = await fetch(`http://127.0.0.1:${port}/api/cluster`);
  return (await res.json()) as Json;
}

/** A gauge from the proxy's /metrics (its default process metrics included). */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^petrel_proxy_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no metric ${name}`);
  return Number(m[1]);
}

function proxyAlive(proc: Proc): boolean {
  return proc.child.exitCode === null && proc.child.signalCode === null;
}

/** Writes `buf` in random pieces, sometimes yielding, so the node sees lines split anywhere. */
async function writeInPieces(c: RawLineClient, buf: Buffer, r: Rand): Promise<void> {
  let off = 0;
  while (off < buf.length && !c.closed) {
    const n = r.chance(0.2) ? 1 + r.int(8) : 1 + r.int(8192);
    const more = c.socket.write(buf.subarray(off, off + n));
    off += n;
    if (!more) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 30_000);
        c.socket.once('drain', () => {
          clearTimeout(timer);
          resolve();
        });
        c.socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    } else if (r.chance(0.05)) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

t.test('fuzz: hostile lines and frames break nothing, leak nothing', async (t) => {
  t.comment(`FUZZ_SEED=${seed}`);
  const rand = new Rand(seed);
  // the inspector (loopback only) lets the test force a gc in the proxy before measuring it
  const inspectPort = await freePort();
  const { proc, port: proxyPort } = await spawnProxy(t.teardown, tempDir(t.teardown), {
    REQUEST_RESULT_PERIOD: '500',
    // its nodes share this process's event loop, which the fuzzer blocks for a second at a
    // time: only NODE_TIMEOUT may judge them, not their heartbeat rhythm
    PHI_THRESHOLD: '0',
    NODE_OPTIONS: `--inspect=127.0.0.1:${inspectPort}`,
  });
  const nodes: PetrelNode[] = [
    await startNode(t.teardown, proxyPort, { NODE_ID: 'n1', SLOTS: '4' }),
    await startNode(t.teardown, proxyPort, { NODE_ID: 'n2', SLOTS: '4' }),
  ];
  const [n1, n2] = nodes as [PetrelNode, PetrelNode];
  const connectedNodes = async () =>
    ((await api(proxyPort)).nodes as Json[]).filter((n) => n.connected).length;
  await until(async () => (await connectedNodes()) === 2, 10_000, 'both nodes to join');

  // ---- client lines -----------------------------------------------------------------------
  const stats = {
    lines: 0,
    bytes: 0,
    connections: 0,
    closedByServer: 0,
    validChecked: 0,
    jobsChecked: 0,
    kinds: {} as Record<string, number>,
    codes: {} as Record<string, number>,
  };
  const problems: string[] = [];
  const problem = (p: string) => {
    if (problems.length < 20) problems.push(p);
  };
  /** Tickets junk may aim at (capped ring). */
  const targets: string[] = [];
  const toWait: Array<{ ticket: string; text: string }> = [];
  const seedTickets: string[] = [];
  const checkedTickets: string[] = [];
  const allSeedTickets: string[] = [];
  const remember = (ticket: string) => {
    if (targets.length < 2000) targets.push(ticket);
    else targets[rand.int(2000)] = ticket;
  };

  const valid = (lane: number, n: number): Item => {
    const one = (line: string, check: Item['check']): Item => ({
      line: Buffer.from(line),
      shape: 'one',
      kind: 'valid',
      check,
    });
    const submitted = (text: string) => (reply: string) => {
      const m = new RegExp(`^OK ${TICKET}$`).exec(reply);
      if (!m) return `SUBMIT of ${text}: ${reply}`;
      toWait.push({ ticket: m[1] as string, text });
      checkedTickets.push(m[1] as string);
      remember(m[1] as string);
      return null;
    };
    const choice = rand.int(9);
    if (choice === 0) return one('PING', (r) => (r === 'OK PONG' ? null : `PING: ${r}`));
    if (choice === 1) return one(`SUBMIT echo ck-${lane}-${n}`, submitted(`ck-${lane}-${n}`));
    if (choice === 2) {
      const text = `ck json ${lane} ${n} "q" \\ é`;
      const p = rand.int(2001) - 1000;
      return one(
        `SUBMIT ${JSON.stringify({ type: 'echo', args: [text], priority: p })}`,
        submitted(text),
      );
    }
    if ((choice === 3 || choice === 4) && toWait.length > 0) {
      const w = toWait.shift() as { ticket: string; text: string };
      return one(`WAIT ${w.ticket} 30000`, (r) => {
        stats.jobsChecked++;
        if (!r.startsWith('OK ')) return `WAIT ${w.ticket}: ${r}`;
        const v = JSON.parse(r.slice(3)) as Json;
        return v.state === 'done' && v.output === w.text && v.ticket === w.ticket
          ? null
          : `WAIT ${w.ticket} wanted ${w.text}: ${r}`;
      });
    }
    if (choice === 5) {
      return one(String(rand.int(20)), (r) => {
        const m = new RegExp(`^Ticket ID: ${TICKET}$`).exec(r);
        if (!m) return `seed submit: ${r}`;
        seedTickets.push(m[1] as string);
        allSeedTickets.push(m[1] as string);
        remember(m[1] as string);
        return null;
      });
    }
    if (choice === 6 && seedTickets.length > 0) {
      const tk = seedTickets.shift() as string;
      return one(`r${tk}`, (r) =>
        r === 'Result: NULL' ||
        new RegExp(
          `^Result: Executed Job\\[${tk}\\] for \\d+ milliseconds from \\S+ to \\S+$`,
        ).test(r)
          ? null
          : `r${tk}: ${r}`,
      );
    }
    if (choice === 7 && checkedTickets.length > 0) {
      const tk = rand.pick(checkedTickets);
      return one(`STATUS ${tk}`, (r) =>
        /^OK (queued|running|done)$/.test(r) ? null : `STATUS ${tk}: ${r}`,
      );
    }
    return one(`RESULT ${rand.ticket()}`, (r) =>
      r.startsWith('ERR NOT_FOUND ') ? null : `RESULT of an unknown ticket: ${r}`,
    );
  };

  /** Reads the replies a batch is owed, in order, checking their shape. */
  const readReplies = async (c: RawLineClient, items: Item[]): Promise<void> => {
    for (const item of items) {
      const first = c.take() ?? (await c.next(60_000));
      if (first === null) {
        problem(`connection closed early, before the reply to ${item.kind} line`);
        return;
      }
      const code = /^(OK|ERR \w+|Ticket ID|Result|Please|Come|Results)/.exec(first)?.[1] ?? '?';
      stats.codes[code] = (stats.codes[code] ?? 0) + 1;
      if (first.includes('internal error')) problem(`internal error for ${item.kind}: ${first}`);
      if (item.shape === 'toolarge') {
        if (!first.startsWith('ERR TOO_LARGE ')) problem(`oversized line answered ${first}`);
        if (!(await c.closedWithin(10_000))) problem('an oversized line did not close');
        return;
      }
      if (item.shape === 'getall') {
        if (first !== 'Results') problem(`getall answered ${first}`);
        for (let i = 0; i <= 1001; i++) {
          const l = c.take() ?? (await c.next());
          if (l === '' || l === null) break;
          if (i === 1001) problem('getall listed more than 1000 tickets');
        }
        continue;
      }
      if (!REPLY_RE.test(first)) problem(`malformed reply to ${item.kind}: ${first.slice(0, 200)}`);
      if (item.shape === 'counted') {
        const n = Number(/^OK (\d+)$/.exec(first)?.[1] ?? NaN);
        if (!(n >= 0 && n <= 1000)) problem(`a counted reply said ${first}`);
        for (let i = 0; i < n; i++) if (c.take() === undefined) await c.next();
      }
      if (item.check) {
        stats.validChecked++;
        const p = item.check(first);
        if (p) problem(p);
      }
      if (item.shape === 'close') {
        if (!(await c.closedWithin(10_000))) problem(`${first} did not close the connection`);
        return;
      }
    }
  };

  const lineLane = async (lane: number, quota: () => boolean): Promise<void> => {
    let c: RawLineClient | undefined;
    let n = 0;
    while (quota()) {
      if (!c || c.closed) {
        c = await RawLineClient.connect(n1.clientPort);
        stats.connections++;
      }
      const items: Item[] = [];
      while (items.length < BATCH && quota()) {
        let item: Item;
        if (rand.chance(0.12)) item = valid(lane, n++);
        else {
          const j = junkLine(rand, targets);
          item = { line: j.line, shape: replyShape(j.line), kind: j.kind };
        }
        items.push(item);
        stats.lines++;
        stats.kinds[item.kind] = (stats.kinds[item.kind] ?? 0) + 1;
        if (item.shape === 'close' || item.shape === 'toolarge') break;
      }
      const buf = Buffer.concat(
        items.flatMap((i) => [i.line, Buffer.from(rand.chance(0.2) ? '\r\n' : '\n')]),
      );
      stats.bytes += buf.length;
      const reading = readReplies(c, items);
      await writeInPieces(c, buf, rand);
      await reading;
      const last = items[items.length - 1];
      if (last && (last.shape === 'close' || last.shape === 'toolarge')) {
        stats.closedByServer++;
        c.destroy();
      }
    }
    c?.destroy();
  };

  const runLines = (count: number) => {
    const stop = stats.lines + count;
    return Promise.all(
      Array.from({ length: LINE_LANES }, (_, i) => lineLane(i, () => stats.lines < stop)),
    );
  };
  const quiet = async (what: string) => {
    await until(() => n1.snapshot().openTickets === 0, 60_000, `${what}: n1's tickets to finish`);
    await until(
      async () => {
        const q = (await api(proxyPort)).queue as Json;
        return q.queued === 0 && q.assigned === 0 && q.running === 0;
      },
      60_000,
      `${what}: the proxy's queue to empty`,
    );
  };
  const resources = () => {
    const counts: Record<string, number> = {};
    for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
    return counts;
  };

  const started = Date.now();
  // a warm-up, so the baseline includes caches, prepared statements and JIT
  await runLines(5_000);
  await quiet('warm-up');
  const heap0 = heapUsedAfterGc();
  await collectGarbageIn(inspectPort);
  const proxyHeap0 = await metric(proxyPort, 'nodejs_heap_size_used_bytes');
  const res0 = resources();
  const clients0 = n1.snapshot().clients;

  await runLines(LINES - stats.lines);
  const linesMs = Date.now() - started;
  await quiet('after the line fuzz');

  // the newest 1000 tickets the node gave anyone (LIST), and every checked one: all distinct
  const lister = await RawLineClient.connect(n1.clientPort);
  lister.socket.write('LIST\n');
  const head = (await lister.next()) ?? '';
  const listed: string[] = [];
  for (let i = Number(/^OK (\d+)$/.exec(head)?.[1] ?? 0); i > 0; i--) {
    listed.push(((await lister.next()) ?? '').split(' ')[0] ?? '');
  }
  lister.destroy();
  const mine = [...checkedTickets, ...allSeedTickets];
  const heapMid = heapUsedAfterGc();

  t.comment(
    `lines: ${stats.lines} (${(stats.bytes / MB).toFixed(1)} MiB) over ${stats.connections} connections in ${linesMs} ms; ` +
      `closed by the server on purpose: ${stats.closedByServer}`,
  );
  t.comment(`line kinds: ${JSON.stringify(stats.kinds)}`);
  t.comment(`reply kinds: ${JSON.stringify(stats.codes)}`);
  t.comment(
    `valid lines checked: ${stats.validChecked}, jobs checked end to end: ${stats.jobsChecked}`,
  );
  t.ok(stats.lines >= LINES, `at least ${LINES} lines sent`);
  t.same(
    problems,
    [],
    'every line got a well-formed reply, in order, and valid ones the right one',
  );
  t.ok(stats.jobsChecked > 500, 'hundreds of valid jobs ran end to end among the junk');
  t.equal(new Set(mine).size, mine.length, `no ticket was issued twice (${mine.length} checked)`);
  t.equal(new Set(listed).size, listed.length, `LIST shows distinct tickets (${listed.length})`);
  t.ok(listed.length > 0 && listed.length <= 1000, 'LIST is capped at 1000');
  t.equal(({} as Json).polluted, undefined, 'no prototype pollution from __proto__ / constructor');

  // ---- cluster frames ---------------------------------------------------------------------
  const fstats = {
    frames: 0,
    connections: 0,
    prehello: 0,
    joined: 0,
    kinds: {} as Record<string, number>,
    closes: {} as Record<string, number>,
  };
  const rejected0 = Number(((await api(proxyPort)).totals as Json).rejected ?? 0);
  let expectRejected = 0;
  const real = checkedTickets.slice(0, 500);
  const recent: string[] = [];
  const note = (kind: string, data: string | Buffer) => {
    fstats.frames++;
    fstats.kinds[kind] = (fstats.kinds[kind] ?? 0) + 1;
    recent.push(`${kind}: ${String(data).slice(0, 300)}`);
    if (recent.length > 3 * FRAME_LANES) recent.shift();
  };
  const fproblems: string[] = [];
  const fproblem = (p: string) => {
    if (fproblems.length < 20) fproblems.push(p);
  };

  const ids = (max = 4) =>
    Array.from({ length: rand.int(max + 1) }, () =>
      rand.chance(0.4) && real.length ? rand.pick(real) : rand.ticket(),
    );
  const OTHER_ORIGINS = ['n1', 'n2', 'fz-999', 'proxy'];

  /** A valid frame a hostile but authenticated node may send: answered, never obeyed. */
  const stayFrame = (me: string): { kind: string; frame: Json; rejects: number } => {
    const kind = rand.pick([
      'INFO',
      'ACK-unknown',
      'RESULT-never-given',
      'RES_REQ-forged',
      'REQUEST_OF_RES',
      'CANCEL',
      'JOB-foreign-origin',
      'JOB-own-with-result',
      'JOB-forged-id',
    ]);
    switch (kind) {
      case 'INFO':
        return {
          kind,
          rejects: 0,
          frame: {
            type: 'INFO',
            queued: rand.int(100),
            running: rand.int(100),
            free: rand.int(200) - 100,
            started: ids().map((id) => ({ id, at: Date.now() })),
          },
        };
      case 'ACK-unknown':
        return { kind, rejects: 0, frame: { type: 'ACK', jobs: ids(), results: ids() } };
      case 'RESULT-never-given': {
        const results = ids(3).map((id) => fakeResult(id, me));
        if (results.length === 0) results.push(fakeResult(rand.ticket(), me));
        return { kind, rejects: results.length, frame: { type: 'RESULT', results } };
      }
      case 'RES_REQ-forged': {
        const results = ids(2).map((id) => fakeResult(id, me));
        return {
          kind,
          rejects: results.length,
          frame: { type: 'RES_REQ', results, missing: ids(), requests: ids() },
        };
      }
      case 'REQUEST_OF_RES':
        return { kind, rejects: 0, frame: { type: 'REQUEST_OF_RES', ids: ids(), reqId: 7 } };
      case 'CANCEL':
        // only unknown ids: every real job is finished by now, and a node may cancel on a
        // client's behalf, so a real id would be obeyed (as designed)
        return { kind, rejects: 0, frame: { type: 'CANCEL', ids: [rand.ticket()] } };
      case 'JOB-foreign-origin':
        return {
          kind,
          rejects: 1,
          frame: {
            type: 'JOB',
            jobs: [
              {
                id: rand.ticket(),
                spec: { type: 'echo', args: ['not mine'] },
                origin: rand.pick(OTHER_ORIGINS),
                submittedAt: Date.now(),
              },
            ],
          },
        };
      case 'JOB-own-with-result': {
        const id = rand.ticket();
        return {
          kind,
          rejects: 0,
          frame: {
            type: 'JOB',
            jobs: [
              {
                id,
                spec: { type: 'echo', args: ['ran it myself'] },
                origin: me,
                submittedAt: Date.now(),
                result: fakeResult(id, me, { output: 'ran it myself' }),
              },
            ],
          },
        };
      }
      default: {
        // a real ticket of n1's, claimed as this node's own forwarded job with its result
        const id = real.length ? rand.pick(real) : rand.ticket();
        return {
          kind,
          rejects: real.length ? 1 : 0,
          frame: {
            type: 'JOB',
            jobs: [
              {
                id,
                spec: { type: 'echo', args: ['x'] },
                origin: me,
                submittedAt: Date.now(),
                result: fakeResult(id, me),
              },
            ],
          },
        };
      }
    }
  };

  const validFrame = (me: string): Json =>
    rand.pick<() => Json>([
      () => stayFrame(me).frame,
      () => ({ type: 'CHALLENGE', nonce: 'ab'.repeat(16) }),
      () => ({ type: 'WELCOME', drop: [], requestResultPeriod: 5 }),
      () => ({
        type: 'HELLO',
        version: 1,
        nodeId: me,
        slots: 1,
        labels: [],
        proof: null,
        holds: [],
      }),
    ])();

  /** An invalid text frame (checked against the schema, so it is certainly invalid). */
  const junkFrame = (me: string): { kind: string; text: string } => {
    const base = validFrame(me);
    const keys = Object.keys(base).filter((k) => k !== 'type');
    const [kind, text] = rand.weighted<() => [string, string]>([
      [
        2,
        () => [
          'not-json',
          rand.pick(['', 'null', '[]', '"HELLO"', '1e999', '{', rand.unicode(40)]),
        ],
      ],
      [1, () => ['truncated', JSON.stringify(base).slice(0, rand.int(40))]],
      [
        2,
        () => [
          'bad-type',
          JSON.stringify({ ...base, type: rand.pick(['hello', 'NOPE', 5, null, ['ACK'], '']) }),
        ],
      ],
      [1, () => ['no-type', JSON.stringify({ ...base, type: undefined })]],
      [
        3,
        () => {
          const o = { ...base };
          delete o[rand.pick(keys.length ? keys : ['x'])];
          return ['missing-field', JSON.stringify(o)];
        },
      ],
      [
        3,
        () => {
          const junk = rand.pick<unknown>([
            '7',
            -1,
            1.5,
            1e300,
            null,
            true,
            {},
            [[]],
            'x'.repeat(50),
            [1, 2],
          ]);
          return [
            'wrong-type',
            JSON.stringify({ ...base, [rand.pick(keys.length ? keys : ['x'])]: junk }),
          ];
        },
      ],
      [2, () => ['extra-key', JSON.stringify({ ...base, [rand.unicode(1 + rand.int(80))]: 1 })]],
      [
        1,
        () => [
          'forged-ids',
          JSON.stringify({
            type: 'ACK',
            jobs: [
              rand.pick([
                '../../etc/passwd',
                "' OR 1=1 --",
                rand.ticket().toLowerCase(),
                rand.ticket() + 'Z',
                '',
                'I'.repeat(26),
              ]),
            ],
          }),
        ],
      ],
      [
        1,
        () => [
          'bad-numbers',
          `{"type":"INFO","queued":${rand.pick(['-1', '1.5', '1e400', '"3"', '9007199254740993e3'])},"running":0,"free":0}`,
        ],
      ],
      [1, () => ['deep', `{"type":"ACK","jobs":${'['.repeat(5000)}${']'.repeat(5000)}}`]],
      [
        1,
        () => [
          'proto',
          '{"type":"ACK","__proto__":{"jobs":[]},"constructor":{"prototype":{"polluted":1}}}',
        ],
      ],
      [
        0.3,
        () => [
          'huge-array',
          JSON.stringify({
            type: rand.pick(['ACK', 'CANCEL']),
            ids: Array.from({ length: 10_001 }, () => rand.ticket()),
            jobs: Array.from({ length: 10_001 }, () => rand.ticket()),
          }),
        ],
      ],
      [
        0.1,
        () => [
          'huge-job-array',
          JSON.stringify({
            type: 'JOB',
            jobs: Array.from({ length: 10_001 }, () => ({
              id: rand.ticket(),
              spec: { type: 'echo', args: [] },
              origin: me,
              submittedAt: 1,
            })),
          }),
        ],
      ],
    ])();
    if (parseFrame(text).ok)
      return { kind: `${kind}+extra`, text: JSON.stringify({ ...JSON.parse(text), zzz: 1 }) };
    return { kind, text };
  };

  const expectClose = async (
    n: RawNode,
    want: { codes: number[]; reason?: string | RegExp },
    what: string,
  ) => {
    const c = await n.closedWith(15_000).catch(() => null);
    if (!c) {
      fproblem(`${what}: the connection was not closed`);
      n.terminate();
      return;
    }
    fstats.closes[c.code] = (fstats.closes[c.code] ?? 0) + 1;
    const reasonOk =
      want.reason === undefined ||
      (typeof want.reason === 'string' ? c.reason === want.reason : want.reason.test(c.reason));
    if (!want.codes.includes(c.code) || !reasonOk) {
      fproblem(
        `${what}: closed ${c.code} "${c.reason}", wanted ${JSON.stringify(want.codes)} ${String(want.reason ?? '')}`,
      );
    }
  };
  const INVALID = /^(invalid frame|frame is not JSON)/;

  const frameLane = async (lane: number): Promise<void> => {
    const me = `fz-${lane}`;
    while (fstats.frames < FRAMES && proxyAlive(proc)) {
      let n: RawNode;
      try {
        n = await RawNode.connect(`ws://127.0.0.1:${proxyPort}/cluster`);
        await n.nonce();
      } catch (err) {
        if (proxyAlive(proc)) fproblem(`could not connect: ${String(err)}`);
        return;
      }
      fstats.connections++;
      if (rand.chance(0.35)) {
        fstats.prehello++;
        const pick = rand.int(10);
        if (pick < 5) {
          const j = junkFrame(me);
          note(`pre-${j.kind}`, j.text);
          n.send(j.text);
          await expectClose(n, { codes: [1008], reason: INVALID }, `pre-HELLO ${j.kind}`);
        } else if (pick < 7) {
          const f = stayFrame(me).frame;
          note('pre-valid', JSON.stringify(f));
          n.send(f);
          await expectClose(
            n,
            { codes: [1008], reason: `expected HELLO, got ${String(f.type)}` },
            'frame before HELLO',
          );
        } else if (pick < 8) {
          note('pre-binary', '(binary)');
          n.send(rand.bytes(1 + rand.int(200)));
          await expectClose(
            n,
            { codes: [1008], reason: 'binary frames are not part of the protocol' },
            'binary',
          );
        } else {
          const bad = rand.pick<Json>([
            { version: 2 },
            { slots: 0 },
            { slots: 1e9 },
            { nodeId: '../etc' },
            { nodeId: '' },
            { proof: 'zz' },
            { labels: Array.from({ length: 33 }, () => 'l') },
            { holds: [{ id: rand.ticket(), state: 'stolen' }] },
          ]);
          const text = JSON.stringify({
            type: 'HELLO',
            version: 1,
            nodeId: me,
            slots: 1,
            labels: [],
            proof: null,
            holds: [],
            ...bad,
          });
          note('bad-HELLO', text);
          n.send(text);
          await expectClose(
            n,
            { codes: [1008], reason: INVALID },
            `bad HELLO ${JSON.stringify(bad)}`,
          );
        }
        continue;
      }
      fstats.joined++;
      const holds = Array.from({ length: rand.chance(0.02) ? 20_000 : rand.int(4) }, () => ({
        id: rand.ticket(),
        state: rand.pick(['queued', 'running', 'finished']),
      }));
      const proof = rand.chance(0.3) ? 'f'.repeat(64) : null;
      n.hello(me, { holds, proof, slots: 1 + rand.int(8) });
      note('HELLO', `holds ${holds.length}`);
      const welcome = await n.frame('WELCOME', 15_000).catch((e: unknown) => {
        fproblem(`HELLO not welcomed: ${String(e)}`);
        return null;
      });
      if (!welcome) {
        n.terminate();
        continue;
      }
      const drop = new Set(welcome.drop as string[]);
      if (holds.some((h) => !drop.has(h.id)))
        fproblem('held ids the proxy never gave were not dropped');
      const k = rand.int(12);
      for (let i = 0; i < k; i++) {
        const s = stayFrame(me);
        expectRejected += s.rejects;
        const text = JSON.stringify(s.frame);
        note(s.kind, text);
        n.send(text);
      }
      const end = rand.int(10);
      if (end === 0) {
        n.ws.close(1000, 'bye');
        await expectClose(n, { codes: [1000, 1005] }, 'a polite close');
      } else if (end === 1) {
        note('second-HELLO', '');
        n.hello(me);
        await expectClose(
          n,
          { codes: [1008], reason: 'HELLO was already received' },
          'second HELLO',
        );
      } else if (end === 2) {
        const f = rand.pick<Json>([
          { type: 'CHALLENGE', nonce: 'ab'.repeat(16) },
          { type: 'WELCOME', drop: [], requestResultPeriod: 5 },
        ]);
        note('proxy-only-frame', JSON.stringify(f));
        n.send(f);
        await expectClose(
          n,
          { codes: [1008], reason: `${String(f.type)} is not a node's frame` },
          'a proxy-only frame',
        );
      } else if (end === 3) {
        note('binary', '(binary)');
        n.send(rand.bytes(64));
        await expectClose(
          n,
          { codes: [1008], reason: 'binary frames are not part of the protocol' },
          'binary after HELLO',
        );
      } else {
        const j = junkFrame(me);
        note(j.kind, j.text);
        n.send(j.text);
        await expectClose(n, { codes: [1008], reason: INVALID }, `${j.kind} after HELLO`);
      }
    }
  };

  const framesStart = Date.now();
  // frames the schema allows but that are absurd in size: a 300,000-entry HELLO and 17 MiB
  if (proxyAlive(proc)) {
    const big = await RawNode.connect(`ws://127.0.0.1:${proxyPort}/cluster`);
    await big.nonce();
    big.hello('fz-big', {
      holds: Array.from({ length: 300_000 }, () => ({ id: rand.ticket(), state: 'queued' })),
    });
    note('HELLO-300k-holds', '');
    // its copies are looked up in batches (0.2 s of the proxy's time for 300,000 here); the
    // deadline is for building, sending and parsing the 8 MiB frame on a loaded machine
    const w = await big.frame('WELCOME', 90_000).catch(() => null);
    t.equal((w?.drop as string[] | undefined)?.length, 300_000, 'a 300,000-entry HELLO is handled');
    big.terminate();
    const huge = await RawNode.connect(`ws://127.0.0.1:${proxyPort}/cluster`);
    await huge.nonce();
    note('17MiB', '');
    huge.send(`{"type":"ACK","jobs":["${'A'.repeat(17 * MB)}"]}`);
    await expectClose(huge, { codes: [1009, 1006] }, 'a 17 MiB frame');
  }
  await Promise.all(Array.from({ length: FRAME_LANES }, (_, i) => frameLane(i)));
  const framesMs = Date.now() - framesStart;

  t.comment(
    `frames: ${fstats.frames} over ${fstats.connections} connections (${fstats.prehello} before HELLO, ${fstats.joined} after) in ${framesMs} ms`,
  );
  t.comment(`frame kinds: ${JSON.stringify(fstats.kinds)}`);
  t.comment(`close codes: ${JSON.stringify(fstats.closes)}`);
  const healthy = await fetch(`http://127.0.0.1:${proxyPort}/healthz`).then(
    (res) => res.ok,
    () => false,
  );
  if (!healthy) {
    await until(() => !proxyAlive(proc), 5000, 'the proxy process to exit').catch(() => null);
    t.fail(`the proxy process died (exit ${proc.child.exitCode}, ${proc.child.signalCode})`);
    t.comment('last frames sent before it died:\n  ' + recent.join('\n  '));
    t.comment('its last log lines:\n  ' + proc.output.slice(-15).join('\n  '));
    return;
  }
  t.ok(fstats.frames >= FRAMES, `at least ${FRAMES} frames sent`);
  t.same(fproblems, [], 'every hostile frame was refused the way the protocol says');

  // ---- afterwards ---------------------------------------------------------------------------
  const health = await fetch(`http://127.0.0.1:${proxyPort}/healthz`);
  t.equal(health.status, 200, 'the proxy is alive');
  await until(async () => (await connectedNodes()) === 2, 10_000, 'the real nodes to be joined');
  const totals = (await api(proxyPort)).totals as Json;
  t.equal(
    Number(totals.rejected) - rejected0,
    expectRejected,
    'every result for a job never given and every job of another origin was rejected',
  );

  const c1 = await RawLineClient.connect(n1.clientPort);
  const c2 = await RawLineClient.connect(n2.clientPort);
  const ask = async (c: RawLineClient, line: string) => {
    c.socket.write(line + '\n');
    return (await c.next()) ?? '(closed)';
  };
  t.equal(await ask(c1, 'PING'), 'OK PONG', 'n1 still answers');
  const after = /^OK (\S+)$/.exec(await ask(c1, 'SUBMIT echo after the storm'))?.[1] ?? '';
  t.match(await ask(c1, `WAIT ${after} 20000`), /"state":"done".*"output":"after the storm"/);
  t.equal(await ask(c2, `RESULT ${after}`), await ask(c1, `RESULT ${after}`), 'n2 sees the same');
  const seedT = /^Ticket ID: (\S+)$/.exec(await ask(c2, '30'))?.[1] ?? '';
  await until(
    async () => (await ask(c2, `r${seedT}`)).includes('Executed Job'),
    20_000,
    'seed job',
  );
  let forged = 0;
  for (const tk of real.slice(0, 200)) {
    const r = await ask(c2, `RESULT ${tk}`);
    if (!r.includes('"state":"done"') || r.includes('FORGED')) forged++;
  }
  t.equal(forged, 0, 'no real job’s result was replaced by a forged one (asked through n2)');
  c1.destroy();
  c2.destroy();

  // ---- memory and leaks -----------------------------------------------------------------------
  await quiet('after the frame fuzz');
  await until(() => n1.snapshot().clients <= clients0, 10_000, 'client connections to close');
  const heap1 = heapUsedAfterGc();
  await collectGarbageIn(inspectPort);
  const proxyHeap1 = await metric(proxyPort, 'nodejs_heap_size_used_bytes');
  const res1 = await until(
    () => {
      const r = resources();
      const grew = ['TCPSocketWrap', 'Timeout'].some((k) => (r[k] ?? 0) > (res0[k] ?? 0) + 8);
      return grew ? undefined : r;
    },
    15_000,
    'sockets and timers to return to their baseline',
  ).catch(() => resources());
  t.comment(
    `test process (the nodes) heap: ${(heap0.heapUsed / MB).toFixed(1)} MiB -> ${(heapMid.heapUsed / MB).toFixed(1)} MiB after the lines -> ${(heap1.heapUsed / MB).toFixed(1)} MiB` +
      ` (gc ${heap1.forced ? 'forced' : 'not available'}); proxy heap ${(proxyHeap0 / MB).toFixed(1)} -> ${(proxyHeap1 / MB).toFixed(1)} MiB`,
  );
  t.comment(`resources before ${JSON.stringify(res0)}, after ${JSON.stringify(res1)}`);
  t.ok(heap1.heapUsed - heap0.heapUsed < 32 * MB, 'the nodes’ heap is flat (< 32 MiB growth)');
  t.ok(proxyHeap1 - proxyHeap0 < 32 * MB, 'the proxy’s heap is flat (< 32 MiB growth)');
  for (const k of ['TCPSocketWrap', 'Timeout']) {
    t.ok(
      (res1[k] ?? 0) <= (res0[k] ?? 0) + 8,
      `${k}: no leak (${res0[k] ?? 0} -> ${res1[k] ?? 0})`,
    );
  }
  t.equal(await metric(proxyPort, 'connected_nodes'), 2, 'only the two real nodes are connected');
  const known = ((await api(proxyPort)).nodes as Json[]).length;
  t.comment(`node ids the proxy remembers: ${known} (fuzz lanes reuse ${FRAME_LANES} ids)`);
});
