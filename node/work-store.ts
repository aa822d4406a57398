import type { Committer, Db } from '../shared/db.js';
import type { JobSpec } from '../shared/job.js';
import type { JobResult } from '../shared/job-view.js';

export type WorkState = 'queued' | 'running' | 'finished';

export interface WorkRow {
  id: string;
  spec: JobSpec;
  origin: string;
  submittedAt: number;
  attempt: number;
  state: WorkState;
  startedAt: number | null;
  result: JobResult | null;
}

interface RawWork {
  id: string;
  spec: string;
  origin: string;
  submitted_at: number;
  attempt: number;
  state: WorkState;
  started_at: number | null;
  result: string | null;
}

/** The jobs this node was given to run, kept until the proxy acknowledges their results. */
export class WorkStore {
  private readonly sql;

  constructor(
    db: Db,
    private readonly committer: Committer,
  ) {
    this.sql = {
      insert: db.prepare(
        `INSERT OR REPLACE INTO work (id, spec, origin, submitted_at, attempt, state, result)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      finished: db.prepare("UPDATE work SET state = 'finished', result = ? WHERE id = ?"),
      remove: db.prepare('DELETE FROM work WHERE id = ?'),
      all: db.prepare<[], RawWork>('SELECT * FROM work ORDER BY id'),
    };
  }

  /**
   * Stores newly dispatched work. The row is built when the transaction runs, so a job that
   * already finished (a quick one, run while its row was committing) is stored with its result
   * in one statement; `w.stored` tells later writes whether the row exists.
   */
  insert(
    w: Omit<WorkRow, 'startedAt'> & { stored?: boolean },
    after?: (err?: Error) => void,
  ): void {
    const spec = JSON.stringify(w.spec);
    this.committer.write(() => {
      const done = w.state === 'finished' && w.result;
      this.sql.insert.run(
        w.id,
        spec,
        w.origin,
        w.submittedAt,
        w.attempt,
        done ? 'finished' : 'queued',
        done ? JSON.stringify(w.result) : null,
      );
      w.stored = true;
    }, after);
  }

  finished(result: JobResult, after?: (err?: Error) => void): void {
    const json = JSON.stringify(result);
    this.committer.write(() => this.sql.finished.run(json, result.id), after);
  }

  /** Deletes rows the proxy no longer needs; deferred (a crash only resends their results). */
  remove(ids: readonly string[]): void {
    this.committer.defer(() => {
      for (const id of ids) this.sql.remove.run(id);
    });
  }

  all(): WorkRow[] {
    return this.sql.all.all().map((r) => ({
      id: r.id,
      spec: JSON.parse(r.spec) as JobSpec,
      origin: r.origin,
      submittedAt: r.submitted_at,
      attempt: r.attempt,
      state: r.state,
      startedAt: r.started_at,
      result: r.result === null ? null : (JSON.parse(r.result) as JobResult),
    }));
  }
}
