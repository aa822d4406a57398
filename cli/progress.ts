import cliProgress from 'cli-progress';
import type { Client, JobResult } from '../client/index.js';

/** How often the bar asks for the jobs' progress. */
const POLL_MS = 300;

interface Tracked {
  total: number;
  done: number;
  state: string;
  finished: boolean;
}

/**
 * A progress bar on the terminal (stderr) while jobs run: one unit per job, or per task for a
 * job of many tasks, fed by RESULT polls while the waits themselves are pending.
 */
export class WaitProgress {
  private readonly bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {value}/{total} {unit}  {states}  {duration_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      stream: process.stderr,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: Client,
    tickets: string[],
  ) {
    for (const t of tickets)
      this.tracked.set(t, { total: 1, done: 0, state: '…', finished: false });
    this.bar.start(tickets.length, 0, { unit: 'jobs', states: '' });
    this.timer = setInterval(() => void this.poll(), POLL_MS);
  }

  /** A wait came back. */
  finished(r: JobResult): void {
    const t = this.tracked.get(r.ticket);
    if (!t) return;
    Object.assign(t, this.from(r), { finished: true });
    t.done = t.total;
    this.render();
  }

  private from(r: JobResult): Partial<Tracked> {
    const p = r.progress;
    return p ? { total: p.total, done: p.done + p.failed, state: r.state } : { state: r.state };
  }

  private async poll(): Promise<void> {
    const open = [...this.tracked].filter(([, t]) => !t.finished);
    const views = await Promise.allSettled(open.map(([ticket]) => this.client.result(ticket)));
    views.forEach((v, i) => {
      const t = open[i]?.[1];
      if (t && !t.finished && v.status === 'fulfilled') Object.assign(t, this.from(v.value));
    });
    this.render();
  }

  private render(): void {
    let total = 0;
    let done = 0;
    const states = new Map<string, number>();
    for (const t of this.tracked.values()) {
      total += t.total;
      done += t.done;
      states.set(t.state, (states.get(t.state) ?? 0) + 1);
    }
    const tasks = [...this.tracked.values()].some((t) => t.total > 1 || t.total === 0);
    this.bar.setTotal(total);
    this.bar.update(done, {
      unit: tasks ? 'tasks' : 'jobs',
      states: [...states].map(([s, n]) => `${n} ${s}`).join(', '),
    });
  }

  stop(): void {
    clearInterval(this.timer);
    this.render();
    this.bar.stop();
  }
}
