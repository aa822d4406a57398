import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobStore } from '../proxy/job-store.js';
import { PROXY_SCHEMA } from '../proxy/schema.js';
import type { NodeConn } from '../proxy/membership.js';
import { createPolicy } from '../proxy/policies.js';
import { ScheduleStore } from '../proxy/schedule-store.js';
import { Scheduler } from '../proxy/scheduler.js';
import { TypeStore } from '../proxy/type-store.js';
import { FrameBatcher } from '../shared/batcher.js';
import { Committer, openDatabase } from '../shared/db.js';
import { newTicket } from '../shared/ids.js';
import type { JobResult } from '../shared/job-view.js';
import { silentLogger } from '../shared/log.js';
import { parseFrame, type Frame, type FrameIn, type WireJob } from '../shared/protocol.js';

/**
 * `npm run bench:replica [-- <rounds>]`: the scale scenario's proxy work in one process, without
 * sockets: the proxy's scheduler and job table on a SQLite file, every frame in through
 * `parseFrame`, every frame out as the text its batchers make, against fake nodes that behave
 * as `fake-nodes.ts` (1,000 nodes of 4 slots, 100 of them keeping 40 `echo` jobs each in flight,
 * heartbeat INFOs). The proxy runs one turn at a time (at most `TURN_FRAMES` frames, then its
 * flush) and its CPU is read around each turn, so the figure (µs of proxy CPU per dispatch)
 * moves with the proxy's own code, not with the machine's other load or the frames' timing:
 * the frames per dispatch are the same from run to run. What it leaves out (WebSocket framing,
 * socket reads and writes, the fsync) is the rest of the scale scenario's figure.
 */

const NODES = 1000;
const ORIGINS = 100;
const WINDOW = 40;
const SLOTS = 4;
/** Frames the proxy reads per turn: close to the scale scenario's frames per dispatch. */
const TURN_FRAMES = 2500;
const HEARTBEATS_PER_TURN = 100;
/** Turns before the measurement starts (V8 compiles the hot paths, the table fills). */
const WARMUP_TURNS = 50;

type Outgoing = [node: string, text: string];

/**
 * A node as the scale scenario's fleet plays it: runs every job at once and reports it by its
 * RESULT alone, forwards as origin.
 */
class ReplicaNode {
  private inbox: string[] = [];
  private ackResults: string[] = [];
  private results: JobResult[] = [];
  private forwards: WireJob[] = [];
  private readonly own = new Set<string>();

  constructor(
    readonly id: string,
    private readonly out: Outgoing[],
    private readonly counts: { dispatched: number },
  ) {}

  receive(text: string): void {
    this.inbox.push(text);
  }

  /** Handles what the proxy sent this turn, and answers as one tick's frames. */
  turn(): void {
    if (this.inbox.length === 0) return;
    for (const text of this.inbox) this.onFrame(JSON.parse(text) as Frame);
    this.inbox = [];
    this.flush();
  }

  private onFrame(f: Frame): void {
    if (f.type === 'JOB') {
      const now = Date.now();
      for (const j of f.jobs) {
        this.results.push({
          id: j.id,
          state: 'done',
          exitCode: 0,
          output: j.spec.args.join(' '),
          error: null,
          node: this.id,
          attempt: j.attempt ?? 1,
          startedAt: now,
          finishedAt: now,
        });
      }
      this.counts.dispatched += f.jobs.length;
    } else if (f.type === 'RESULT') {
      let refill = 0;
      for (const r of f.results) {
        this.ackResults.push(r.id);
        if (this.own.delete(r.id)) refill++;
      }
      this.forward(refill);
    }
  }

  forward(n: number): void {
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const id = newTicket(now);
      this.own.add(id);
      const spec = { type: 'echo', args: ['x'], priority: 0, maxAttempts: 3 };
      this.forwards.push({ id, spec, origin: this.id, submittedAt: now });
    }
  }

  flush(): void {
    const send = (f: FrameIn) => this.out.push([this.id, JSON.stringify(f)]);
    if (this.ackResults.length) send({ type: 'ACK', jobs: [], results: this.ackResults });
    this.ackResults = [];
    if (this.results.length) send({ type: 'RESULT', results: this.results });
    this.results = [];
    if (this.forwards.length) send({ type: 'JOB', jobs: this.forwards });
    this.forwards = [];
  }
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

function runReplica(turns: number): {
  usPerDispatch: number;
  framesIn: number;
  framesOut: number;
} {
  const dir = mkdtempSync(join(tmpdir(), 'petrel-replica-'));
  const db = openDatabase(dir, 'proxy.db', 'relaxed', PROXY_SCHEMA, {
    pageSize: 16_384,
    tempStore: 'memory',
  });
  try {
    const committer = new Committer(db);
    const log = silentLogger();
    const schedules = new ScheduleStore(db, committer);
    const scheduler = new Scheduler(
      new JobStore(db, committer),
      committer,
      () => createPolicy('least-loaded'),
      { prefetch: 1, dispatchPeriod: 0, maxJobsPerDispatch: 1000, schedules, log },
      new TypeStore(db, committer),
    );
    const toProxy: Outgoing[] = [];
    const counts = { dispatched: 0, framesOut: 0 };
    const nodes: ReplicaNode[] = [];
    for (let i = 0; i < NODES; i++) {
      const node = new ReplicaNode(`fake-${String(i + 1).padStart(4, '0')}`, toProxy, counts);
      nodes.push(node);
      const text = (t: string) => {
        counts.framesOut++;
        node.receive(t);
      };
      const send = (f: FrameIn) => text(JSON.stringify(f));
      const conn: NodeConn = { out: new FrameBatcher(send, (fn) => fn(), text), send, close() {} };
      scheduler.join(node.id, SLOTS, [], conn);
    }
    for (const n of nodes) n.turn(); // the WELCOMEs
    for (const n of nodes.slice(0, ORIGINS)) {
      n.forward(WINDOW);
      n.flush();
    }
    let proxyUs = 0;
    let framesIn = 0;
    let beat = 0;
    let start = { us: 0, dispatched: 0, framesIn: 0, framesOut: 0 };
    for (let turn = 0; turn < WARMUP_TURNS + turns; turn++) {
      if (turn === WARMUP_TURNS) start = { us: proxyUs, ...counts, framesIn };
      for (let i = 0; i < HEARTBEATS_PER_TURN; i++) {
        const n = nodes[beat++ % NODES] as ReplicaNode;
        toProxy.push([n.id, JSON.stringify({ type: 'INFO', queued: 0, running: 0, free: SLOTS })]);
      }
      const frames = toProxy.splice(0, TURN_FRAMES);
      framesIn += frames.length;
      const t0 = cpuUs();
      for (const [id, text] of frames) {
        const parsed = parseFrame(text);
        if (!parsed.ok) throw new Error(parsed.reason);
        scheduler.handle(id, parsed.frame);
      }
      committer.flush();
      proxyUs += cpuUs() - t0;
      for (const n of nodes) n.turn();
    }
    const dispatched = counts.dispatched - start.dispatched;
    return {
      usPerDispatch: (proxyUs - start.us) / dispatched,
      framesIn: (framesIn - start.framesIn) / dispatched,
      framesOut: (counts.framesOut - start.framesOut) / dispatched,
    };
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const turns = Number(process.argv[2] ?? 300);
const r = runReplica(turns);
process.stdout.write(
  `proxy CPU ${r.usPerDispatch.toFixed(2)} µs per dispatch; frames per dispatch: ` +
    `${r.framesIn.toFixed(2)} in, ${r.framesOut.toFixed(2)} out (${turns} turns)\n`,
);
// the committer's and the batchers' immediates left behind would find nothing more to do
process.exit(0);
