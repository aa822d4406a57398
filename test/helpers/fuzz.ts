import { seededRandom } from '../../bench/workload.js';
import net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { parseSubmit } from '../../node/commands.js';
import { SEED_NUMBER_RE, SEED_RESULT_RE } from '../../node/seed-dialect.js';
import { CLIENT_STATES } from '../../shared/job.js';

/**
 * Building blocks for the fuzz and security tests: a seeded PRNG, generators of hostile client
 * lines, a model of how many reply lines a line gets, a raw line reader, and a raw node that
 * speaks the cluster protocol (or fails to) over `ws`.
 */

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Seeded random choices, so a failure can be replayed from its seed. */
export class Rand {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = seededRandom(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(entries: ReadonlyArray<readonly [number, T]>): T {
    const total = entries.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, v] of entries) if ((x -= w) < 0) return v;
    return (entries[entries.length - 1] as readonly [number, T])[1];
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  ascii(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + this.int(95));
    return s;
  }
  /** Random text from every plane: control characters, CJK, emoji, lone surrogates. */
  unicode(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) {
      s += this.weighted<() => string>([
        [4, () => String.fromCharCode(0x20 + this.int(95))],
        [1, () => String.fromCharCode(this.int(0x20))],
        [1, () => String.fromCharCode(0x80 + this.int(0x780))],
        [1, () => String.fromCharCode(0x4e00 + this.int(0x5000))],
        [1, () => String.fromCodePoint(0x1f600 + this.int(0x50))],
        [0.3, () => String.fromCharCode(0xd800 + this.int(0x800))],
      ])();
    }
    return s;
  }
  /** A well-formed ticket nobody issued. */
  ticket(): string {
    let s = '';
    for (let i = 0; i < 26; i++) s += CROCKFORD[this.int(32)];
    return s;
  }
}

/** The seed: `FUZZ_SEED` when set (to replay a failure), else a fresh one. */
export function fuzzSeed(): number {
  const env = process.env.FUZZ_SEED;
  if (env !== undefined && env !== '') return Number(env) >>> 0;
  return (Date.now() ^ (process.pid << 16)) >>> 0;
}

let gcFn: (() => void) | null | undefined;
/** Heap in use after a forced collection when one can be forced (else as it is). */
export function heapUsedAfterGc(): { heapUsed: number; forced: boolean } {
  if (gcFn === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gcFn = runInNewContext('gc') as () => void;
    } catch {
      gcFn = null;
    }
  }
  if (gcFn) for (let i = 0; i < 3; i++) gcFn();
  return { heapUsed: process.memoryUsage().heapUsed, forced: gcFn !== null };
}

export const MB = 1024 * 1024;

// ---- client lines ------------------------------------------------------------------------------

/** How many reply lines the node owes for one request line (see node/commands.ts). */
export type Shape = 'one' | 'counted' | 'getall' | 'close' | 'toolarge';

const MAX_LINE = 64 * 1024;

/** The reply shape of one line, decoded the way the node decodes it. */
export function replyShape(line: Buffer): Shape {
  let s = line.toString('utf8');
  if (s.endsWith('\r')) s = s.slice(0, -1);
  if (Buffer.byteLength(s) > MAX_LINE) return 'toolarge';
  const t = s.trim();
  if (t === '' || SEED_NUMBER_RE.test(t)) return 'one';
  const space = t.search(/\s/);
  if (space < 0 && SEED_RESULT_RE.test(t)) return 'one';
  const verb = (space < 0 ? t : t.slice(0, space)).toUpperCase();
  if (verb === 'HELP') return 'counted';
  if (verb === 'LIST') {
    // LIST [state]: a word that is not a state is refused on one line
    const arg =
      space < 0
        ? ''
        : t
            .slice(space + 1)
            .trim()
            .toLowerCase();
    return arg === '' || (CLIENT_STATES as readonly string[]).includes(arg) ? 'counted' : 'one';
  }
  if (verb === 'GETALL') return 'getall';
  if (verb === 'QUIT' || verb === 'EXIT') return 'close';
  return 'one';
}

/**
 * False for a line that would submit a job that runs long (a long sleep, by the seed's bare
 * number or SUBMIT): the fuzz must not fill the node's slots for hours.
 */
export function harmless(line: Buffer): boolean {
  const t = line.toString('utf8').trim();
  if (SEED_NUMBER_RE.test(t)) return !(/^\+?\d+$/.test(t) && Number(t) > 50);
  const space = t.search(/\s/);
  if ((space < 0 ? t : t.slice(0, space)).toUpperCase() !== 'SUBMIT') return true;
  try {
    const spec = parseSubmit(space < 0 ? '' : t.slice(space + 1).trim());
    return !(spec.type === 'sleep' && Number(spec.args[0]) > 50);
  } catch {
    return true;
  }
}

const VERBS = [
  'SUBMIT',
  'submit',
  'STATUS',
  'status',
  'RESULT',
  'WAIT',
  'wait',
  'CANCEL',
  'AUTH',
  'PING',
  'HELP',
  'Submit',
  'rESULT',
];
const JUNK_ARGS = [
  '-1',
  '0',
  '-0',
  '1.5',
  '1e400',
  'NaN',
  'Infinity',
  '0x1F',
  '٣',
  '１２',
  '{',
  '}',
  '[]',
  '"',
  '\\',
  '%s%n%x',
  '$(id)',
  '`id`',
  '; rm -rf /',
  '../../etc/passwd',
  '\x00',
  '\x1b[2J',
  '\x7f',
  'sleep',
  'echo',
  'exec',
  'exec /bin/sh -c id',
  '__proto__',
  'null',
];
const SEED_LOOKALIKES = [
  '-1',
  '1.5',
  '1e3',
  '+5',
  ' 5 ',
  '５',
  '0x10',
  '1_000',
  '99999999999999999999999',
  '-0',
  '.5',
  'e5',
  'r',
  'r123',
  'R',
  'r ',
  'gettall',
  'exi',
  'ex it',
];
const ECHO_TYPES = ['echo', 'ECHO', 'sleep', 'exec', 'teleport', '', 'Echo'];

function junkArg(r: Rand, tickets: readonly string[]): string {
  return r.weighted<() => string>([
    [6, () => r.pick(JUNK_ARGS)],
    [3, () => r.ticket()],
    [2, () => (tickets.length ? r.pick(tickets) : r.ticket())],
    [1, () => r.ticket().toLowerCase().replace(/1/g, 'l').replace(/0/g, 'o')],
    [1, () => r.ticket().slice(0, 20 + r.int(12))],
    [2, () => '9'.repeat(1 + r.int(40))],
    [2, () => r.unicode(1 + r.int(30))],
    [1, () => r.ascii(1 + r.int(400)).replace(/\s/g, '_')],
  ])();
}

function junkJson(r: Rand): string {
  const value = (depth: number): unknown =>
    r.weighted<() => unknown>([
      [2, () => r.int(1000) - 500],
      [1, () => r.pick([1e308, -1e308, 2 ** 53 + 1, 1.5, -0, 1e21])],
      [2, () => r.unicode(r.int(12))],
      [1, () => null],
      [1, () => r.chance(0.5)],
      [depth > 3 ? 0 : 1, () => Array.from({ length: r.int(4) }, () => value(depth + 1))],
      [depth > 3 ? 0 : 1, () => ({ [r.unicode(3)]: value(depth + 1) })],
    ])();
  return r.weighted<() => string>([
    [3, () => JSON.stringify({ type: r.pick(ECHO_TYPES), args: value(0) })],
    [2, () => JSON.stringify({ type: 'echo', args: ['x'], priority: value(0) })],
    [2, () => JSON.stringify({ type: 'sleep', args: [value(0)], timeoutMs: value(0) })],
    [1, () => JSON.stringify({ type: 'echo', args: ['x'], maxAttempts: value(0), extra: 1 })],
    [1, () => '{"type":"echo","args":["x"],"priority":1e999}'],
    [1, () => '{"__proto__":{"type":"exec"},"type":"echo","args":["p"]}'],
    [1, () => '{"constructor":{"prototype":{"polluted":1}},"type":"echo"}'],
    [1, () => `{"type":"echo","args":${'['.repeat(2000)}${']'.repeat(2000)}}`],
    [1, () => JSON.stringify(value(0))],
    [1, () => `{"type":"echo","args":["${r.ascii(r.int(30)).replace(/["\\]/g, '')}"`],
    [1, () => JSON.stringify({ type: 'echo', args: Array.from({ length: 300 }, () => 'a') })],
  ])();
}

/** Mutates text as a careless or hostile typist would: flips, inserts, deletes, splices. */
function mutate(r: Rand, text: string): Buffer {
  let b: Buffer = Buffer.from(text);
  const n = 1 + r.int(3);
  for (let i = 0; i < n; i++) {
    const at = r.int(b.length + 1);
    b = r.weighted<() => Buffer>([
      [3, () => Buffer.concat([b.subarray(0, at), r.bytes(1), b.subarray(at + 1)])],
      [2, () => Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(4)), b.subarray(at)])],
      [2, () => Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(4))])],
      [1, () => Buffer.concat([b, b.subarray(at)])],
      [1, () => Buffer.from(b.toString('latin1').toLowerCase(), 'latin1')],
      [1, () => Buffer.concat([b.subarray(0, at), Buffer.from(r.pick(['\r', '\0', '\t', ' ']))])],
      [1, () => b.subarray(0, at)],
    ])();
  }
  return b;
}

export type LineKind =
  'bytes' | 'ascii' | 'verb' | 'seed' | 'json' | 'mutant' | 'huge' | 'toolarge' | 'closer';

/**
 * One hostile line (without its newline). `tickets` are real tickets this run was given, so
 * some junk aims at jobs that exist.
 */
export function junkLine(r: Rand, tickets: readonly string[]): { kind: LineKind; line: Buffer } {
  const t = () => (tickets.length && r.chance(0.6) ? r.pick(tickets) : r.ticket());
  const kind = r.weighted<LineKind>([
    [10, 'bytes'],
    [8, 'ascii'],
    [30, 'verb'],
    [10, 'seed'],
    [14, 'json'],
    [25, 'mutant'],
    [0.12, 'huge'],
    [0.02, 'toolarge'],
    [0.03, 'closer'],
  ]);
  const sep = () => r.pick([' ', '  ', '\t', ' \t ']);
  let line: Buffer;
  switch (kind) {
    case 'bytes':
      line = r.bytes(r.int(300));
      break;
    case 'ascii':
      line = Buffer.from(r.ascii(r.int(120)));
      break;
    case 'verb': {
      // LIST and getall are rare: each reads up to 1,000 tickets (see the report on its cost)
      const verb = r.chance(0.005) ? r.pick(['LIST', 'list', 'getall', 'GETALL']) : r.pick(VERBS);
      // a real ticket in the hands of CANCEL would be obeyed (tickets are capabilities)
      const verbArgs = verb.toUpperCase() === 'CANCEL' ? [] : tickets;
      const args = Array.from({ length: r.int(5) }, () => junkArg(r, verbArgs));
      line = Buffer.from([verb, ...args].join(sep()));
      break;
    }
    case 'seed':
      // getall is rare: each one reads up to 1,000 tickets (see the report on its cost)
      line = Buffer.from(
        r.chance(0.01)
          ? r.pick(['getall extra', 'GETALL', 'Getall'])
          : r.chance(0.3)
            ? `${r.pick(['r', 'R', 'r ', 'rr'])}${t()}`
            : r.pick(SEED_LOOKALIKES),
      );
      break;
    case 'json':
      line = Buffer.from(`${r.pick(['SUBMIT', 'submit'])} ${junkJson(r)}`);
      break;
    case 'mutant':
      line = mutate(
        r,
        r.pick([
          'SUBMIT echo hello world',
          'SUBMIT sleep 5',
          `STATUS ${t()}`,
          `RESULT ${t()}`,
          `WAIT ${t()} 100`,
          `CANCEL ${r.ticket()}`,
          `r${t()}`,
          '7',
          'SUBMIT {"type":"echo","args":["a b"],"priority":3}',
          'LIST',
          'HELP',
          'PING',
          'AUTH hunter2',
        ]),
      );
      break;
    case 'huge':
      line = Buffer.from(
        r.pick(['STATUS ', 'SUBMIT echo ', 'FROB ', 'SUBMIT {"type":"echo","args":["']) +
          'y'.repeat(20_000 + r.int(40_000)),
      );
      break;
    case 'toolarge':
      line = Buffer.from('SUBMIT echo ' + 'z'.repeat(70_000 + r.int(80_000)));
      break;
    case 'closer':
      line = Buffer.from(r.pick(['QUIT', 'quit', 'exit', 'Exit now', 'QUIT please']));
      break;
  }
  // the newline is the frame boundary: junk never contains one (a \r may)
  for (let i = 0; i < line.length; i++) if (line[i] === 0x0a) line[i] = 0x0b;
  if (!harmless(line)) line = Buffer.from('PING');
  return { kind, line };
}

// ---- a raw line reader -------------------------------------------------------------------------

/** A raw TCP client: writes bytes as told, splits replies on `\n` only. */
export class RawLineClient {
  private readonly lines: string[] = [];
  private head = 0;
  private partial = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      let buf = this.partial.length ? Buffer.concat([this.partial, chunk]) : chunk;
      let nl: number;
      while ((nl = buf.indexOf(0x0a)) >= 0) {
        this.lines.push(buf.subarray(0, nl).toString('utf8'));
        buf = buf.subarray(nl + 1);
      }
      this.partial = Buffer.from(buf);
      this.poke();
    });
    socket.on('close', () => {
      this.closed = true;
      this.poke();
    });
    socket.on('error', () => {});
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  static connect(port: number): Promise<RawLineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.off('error', reject);
        s.setNoDelay(true);
        resolve(new RawLineClient(s));
      });
      s.once('error', reject);
    });
  }

  /** The next line if one has arrived (no promise: the fuzz reads 100,000s of lines). */
  take(): string | undefined {
    if (this.head >= this.lines.length) return undefined;
    const l = this.lines[this.head++] as string;
    if (this.head > 4096) {
      this.lines.splice(0, this.head);
      this.head = 0;
    }
    return l;
  }

  /** The next line, or null once the connection closed with nothing left. */
  async next(ms = 30_000): Promise<string | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const l = this.take();
      if (l !== undefined) return l;
      if (this.closed) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply line within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Waits until the server closed the connection. */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) {
      // drain whatever else arrives; only the close matters here
      await this.next(deadline - Date.now()).catch(() => null);
    }
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

// ---- a raw node --------------------------------------------------------------------------------

export type Json = Record<string, unknown>;

/** Speaks the cluster protocol by hand, so tests can break it on purpose. */
export class RawNode {
  readonly frames: Json[] = [];
  closed: { code: number; reason: string } | null = null;
  private wake: (() => void) | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      try {
        this.frames.push(JSON.parse(data.toString()) as Json);
      } catch {
        this.frames.push({ type: '(not JSON)' });
      }
      this.poke();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.poke();
    });
    ws.on('error', () => {});
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** A raw node `id` joined to the proxy on `port` (its WELCOME received), closed at teardown. */
  static async joined(
    teardown: (fn: () => unknown) => void,
    port: number,
    id: string,
    extra: Json = {},
  ): Promise<RawNode> {
    const n = await RawNode.connect(`ws://127.0.0.1:${port}/cluster`);
    teardown(() => n.terminate());
    await n.nonce();
    n.hello(id, extra);
    await n.frame('WELCOME');
    return n;
  }

  static connect(url: string, ms = 10_000): Promise<RawNode> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: ms });
      const node = new RawNode(ws);
      ws.once('open', () => resolve(node));
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`unexpected response ${res.statusCode}`)),
      );
    });
  }

  /** Resolves with `check()`'s first truthy value, woken by every frame and by the close. */
  async wait<T>(check: () => T | undefined | null | false, ms: number, what: string): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = check();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The first frame of `type`; rejects if the connection closes first. */
  async frame(type: string, ms = 10_000): Promise<Json> {
    const found = await this.wait(
      () => {
        const f = this.frames.find((x) => x.type === type);
        return f ? { f } : this.closed ? { f: null } : undefined;
      },
      ms,
      `a ${type} frame`,
    );
    if (!found.f) throw new Error(`closed before ${type}: ${JSON.stringify(this.closed)}`);
    return found.f;
  }

  async nonce(ms = 10_000): Promise<string> {
    return (await this.frame('CHALLENGE', ms)).nonce as string;
  }

  closedWith(ms = 10_000): Promise<{ code: number; reason: string }> {
    return this.wait(() => this.closed, ms, 'the connection to close');
  }

  send(frame: Json | string | Buffer): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    const data =
      typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    this.ws.send(data, { binary: Buffer.isBuffer(frame) });
  }

  hello(nodeId: string, extra: Json = {}): void {
    this.send({
      type: 'HELLO',
      version: 1,
      nodeId,
      slots: 1,
      labels: [],
      proof: null,
      holds: [],
      ...extra,
    });
  }

  terminate(): void {
    this.ws.terminate();
  }
}

/** A result as a node reports it. */
export function fakeResult(id: string, node: string | null, extra: Json = {}): Json {
  const now = Date.now();
  return {
    id,
    state: 'done',
    exitCode: 0,
    output: 'FORGED',
    error: null,
    node,
    attempt: 1,
    startedAt: now,
    finishedAt: now,
    ...extra,
  };
}

/**
 * Forces a full collection in another Node process started with `--inspect=127.0.0.1:<port>`,
 * through the inspector protocol, so its heap can be compared like this process's.
 */
export async function collectGarbageIn(inspectPort: number): Promise<void> {
  const list = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl: string;
  }>;
  const url = list[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error('no inspector target');
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  try {
    for (let id = 1; id <= 2; id++) {
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer from the inspector')), 20_000);
        ws.on('message', (d) => {
          if ((JSON.parse(d.toString()) as { id?: number }).id === id) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
      await done;
    }
  } finally {
    ws.terminate();
  }
}
