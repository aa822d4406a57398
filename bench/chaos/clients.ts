import { TICKET_RE } from '../../shared/ids.js';
import { CLOSED_REPLY } from '../line-client.js';
import { sleep, type Job, type RunContext, type Ticket } from './context.js';
import { Conn } from './connection.js';
import { checkAcross, checkResult, makeJob, type View } from './job-kinds.js';
import type { Cluster } from './processes.js';

/**
 * The clients of a chaos run: submitters that retry each job until it has a ticket, then
 * checkers that wait for every ticket at its origin, hold it to what its job promises (see
 * job-kinds.ts) and compare it with another node's answer.
 */
export class Clients {
  readonly jobs: Job[] = [];
  /** Each job's ticket, once a node returned one; null for a job refused (see `lane`). */
  private readonly ticketOf: Array<string | null | undefined> = [];
  /** Every final result, by ticket. */
  private readonly views = new Map<string, View>();
  private nextJob = 0;

  constructor(
    private readonly ctx: RunContext,
    private readonly cluster: Cluster,
  ) {
    const { mix, jobs, maxSleepMs } = ctx.o;
    for (let i = 0; i < jobs; i++) {
      this.jobs.push(makeJob(mix, i, jobs, ctx.rand, this.jobs, maxSleepMs));
    }
  }

  // ---- submissions --------------------------------------------------------------------------

  async submitAll(): Promise<void> {
    const conns: Conn[] = [];
    for (let i = 0; i < this.ctx.o.nodes; i++) {
      for (let k = 0; k < this.ctx.o.connectionsPerNode; k++) {
        conns.push(new Conn(i, this.cluster.clientPorts[i] as number, this.ctx.live));
      }
    }
    this.ctx.t0 = Date.now();
    try {
      await Promise.all(
        conns.flatMap((c) =>
          Array.from({ length: this.ctx.o.window }, () => this.lane(c, this.ctx.t0)),
        ),
      );
    } finally {
      for (const c of conns) c.close();
      this.ctx.submitDone = true;
      this.ctx.submitMs = Date.now() - this.ctx.t0;
    }
    const timeouts = conns.reduce((s, c) => s + c.timeouts, 0);
    if (timeouts > 0)
      this.ctx.problem(`${timeouts} submissions got no reply within 20 s (retried)`);
  }

  /** Submits jobs one after another on `conn` until none are left; retries what went unanswered. */
  private async lane(conn: Conn, t0: number): Promise<void> {
    for (let index = this.nextJob++; index < this.ctx.o.jobs; index = this.nextJob++) {
      if (this.ctx.o.rate > 0) {
        const at = t0 + (index * 1000) / this.ctx.o.rate;
        while (Date.now() < at) {
          this.ctx.live();
          await sleep(Math.min(100, at - Date.now()));
        }
      }
      const job = this.jobs[index] as Job;
      const line = job.after === undefined ? job.line : await this.withAfter(job.line, job.after);
      if (line === null) {
        // it waits for a job that was refused: never submitted
        this.ticketOf[index] = null;
        this.ctx.refused++;
        continue;
      }
      for (;;) {
        this.ctx.live();
        const reply = await conn.request(line, 20_000);
        const ticket = reply.startsWith('OK ') ? reply.slice(3) : '';
        if (TICKET_RE.test(ticket)) {
          this.ctx.tickets.push({ id: ticket, job: index, origin: conn.node });
          this.ticketOf[index] = ticket;
          if (job.cancel) await this.cancel(conn, ticket);
          break;
        }
        // a ticket never returned was never promised: ask again
        if (reply === CLOSED_REPLY || /^ERR (UNAVAILABLE|BUSY) /.test(reply)) {
          this.ctx.resubmits++;
          continue;
        }
        // a job that names a ticket the cluster gave out is never refused for it
        if (job.after !== undefined && reply.startsWith('ERR BAD_REQUEST after: unknown ticket')) {
          this.ticketOf[index] = null;
          this.ctx.refused++;
          this.ctx.wrongOf(job.kind);
          this.ctx.example(`job ${index} (${job.kind}): refused: ${reply}`);
          break;
        }
        throw new Error(`SUBMIT refused: ${reply}`);
      }
    }
  }

  /** CANCEL of `ticket`, sent again until a node answers it. */
  private async cancel(conn: Conn, ticket: string): Promise<void> {
    for (;;) {
      this.ctx.live();
      const reply = await conn.request(`CANCEL ${ticket}`, 20_000);
      if (reply.startsWith('OK ')) return;
      if (reply === CLOSED_REPLY || /^ERR (UNAVAILABLE|BUSY|TIMEOUT) /.test(reply)) continue;
      throw new Error(`CANCEL refused: ${reply}`);
    }
  }

  /** `line` naming the ticket of job `after`, once another lane has it; null if it was refused. */
  private async withAfter(line: string, after: number): Promise<string | null> {
    await this.ctx.poll(() => this.ticketOf[after] !== undefined, this.ctx.o.deadlineMs);
    const ticket = this.ticketOf[after];
    return ticket ? line.replace('{after}', ticket) : null;
  }

  // ---- verification -------------------------------------------------------------------------

  /** Every ticket: WAIT at its origin until terminal, then RESULT from another node. */
  async verify(): Promise<void> {
    const waitConns: Conn[] = [];
    const resultConns: Conn[] = [];
    const queues: Ticket[][] = Array.from({ length: this.ctx.o.nodes }, () => []);
    for (const t of this.ctx.tickets) queues[t.origin]?.push(t);
    for (let i = 0; i < this.ctx.o.nodes; i++) {
      for (let k = 0; k < this.ctx.o.connectionsPerNode; k++) {
        waitConns.push(new Conn(i, this.cluster.clientPorts[i] as number, this.ctx.live));
        const other = (i + 1) % this.ctx.o.nodes;
        resultConns.push(new Conn(other, this.cluster.clientPorts[other] as number, this.ctx.live));
      }
    }
    const until = Date.now() + this.ctx.o.settleMs;
    const lanes: Promise<void>[] = [];
    waitConns.forEach((wc, k) => {
      const rc = resultConns[k] as Conn;
      const q = queues[wc.node] as Ticket[];
      for (let l = 0; l < 32; l++) lanes.push(this.verifyLane(q, wc, rc, until));
    });
    try {
      await Promise.all(lanes);
    } finally {
      for (const c of [...waitConns, ...resultConns]) c.close();
    }
    for (const { kind, why } of checkAcross(this.jobs, this.ticketOf, this.views)) {
      this.ctx.wrongOf(kind);
      this.ctx.example(why);
    }
  }

  private async verifyLane(q: Ticket[], wc: Conn, rc: Conn, until: number): Promise<void> {
    for (let t = q.pop(); t; t = q.pop()) {
      const final = await this.waitTerminal(t, wc, until);
      if (final === null) continue;
      const view = JSON.parse(final) as View;
      this.timing(t, view.submittedAt, view.finishedAt, final);
      const job = this.jobs[t.job] as Job;
      if (view.ticket !== t.id || view.state !== job.expect.state) {
        this.lose(t, `${view.state ?? '?'} ${view.error ?? ''}, not ${job.expect.state}: ${final}`);
        continue;
      }
      this.ctx.ended[job.kind] = (this.ctx.ended[job.kind] ?? 0) + 1;
      // jobs of one key share a ticket: it is counted once
      if (view.state === 'done' && !this.views.has(t.id)) this.ctx.counts.done++;
      this.views.set(t.id, view);
      const why = checkResult(job, t.id, view);
      if (why !== null) {
        this.ctx.wrongOf(job.kind);
        this.ctx.example(`${t.id} (${job.kind}): ${why}`);
      }
      const other = await this.ask(rc, `RESULT ${t.id}`, until);
      if (other !== `OK ${final}`) {
        this.ctx.counts.inconsistent++;
        this.ctx.example(
          `${t.id}: origin ${this.ctx.nodeId(t.origin)} says ${final}; ${this.ctx.nodeId(rc.node)} says ${other}`,
        );
      }
    }
  }

  /** The terminal result JSON from the origin, or null (counted lost) if there is none in time. */
  private async waitTerminal(t: Ticket, wc: Conn, until: number): Promise<string | null> {
    for (;;) {
      const left = until - Date.now();
      if (left <= 0) {
        const last = await this.ask(wc, `RESULT ${t.id}`, Date.now() + 10_000);
        this.lose(t, `not terminal ${this.ctx.o.settleMs} ms after the chaos stopped: ${last}`);
        return null;
      }
      const reply = await this.ask(wc, `WAIT ${t.id} ${Math.min(5000, left)}`, until + 10_000);
      if (reply.startsWith('OK ')) return reply.slice(3);
      if (reply.startsWith('ERR TIMEOUT')) continue;
      this.lose(t, `WAIT at origin ${this.ctx.nodeId(t.origin)}: ${reply}`);
      return null;
    }
  }

  /** A request retried across reconnects until `until`. */
  private async ask(c: Conn, line: string, until: number): Promise<string> {
    for (;;) {
      const reply = await c.request(line, Math.max(1000, until - Date.now() + 1000));
      if (reply !== CLOSED_REPLY || Date.now() > until) return reply;
      await sleep(25);
    }
  }

  /** Records how long the ticket took, from its own result's times. */
  private timing(t: Ticket, submitted = '', finished = '', final: string): void {
    const end = Date.parse(finished);
    const took = end - Date.parse(submitted);
    if (!Number.isFinite(took)) return;
    this.ctx.lastTerminalAt = Math.max(this.ctx.lastTerminalAt, end);
    this.ctx.recovery.latency.push(took);
    if (!this.ctx.slowest || took > this.ctx.slowest.ms) {
      this.ctx.slowest = {
        ms: took,
        text: `${t.id} (origin ${this.ctx.nodeId(t.origin)}): ${final}`,
      };
    }
  }

  private lose(t: Ticket, why: string): void {
    this.ctx.counts.lost++;
    this.ctx.example(`${t.id} (origin ${this.ctx.nodeId(t.origin)}): ${why}`);
  }
}
