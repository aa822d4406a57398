import type { Committer, Db } from '../shared/db.js';

const META_KEY = 'known_types';

/**
 * The custom job types the cluster knows (every type a worker ever registered, as the proxy
 * lists them), kept in the node's file so that SUBMIT checks types the same way while the
 * proxy is away or after a restart. The list only grows.
 */
export class KnownTypes {
  private readonly types = new Set<string>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly save: (value: string) => void;

  constructor(
    db: Db,
    private readonly committer: Committer,
  ) {
    const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(META_KEY) as
      { value: string } | undefined;
    if (row) {
      try {
        for (const t of JSON.parse(row.value) as unknown[]) {
          if (typeof t === 'string') this.types.add(t);
        }
      } catch {
        // an unreadable list is relearned from the proxy's next WELCOME
      }
    }
    const put = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    this.save = (value) => put.run(META_KEY, value);
  }

  has(type: string): boolean {
    return this.types.has(type);
  }

  /** Adds the proxy's list; waiters for a type in it wake up. */
  learn(types: readonly string[]): void {
    let added = false;
    for (const t of types) {
      if (this.types.has(t)) continue;
      this.types.add(t);
      added = true;
      const set = this.waiters.get(t);
      this.waiters.delete(t);
      for (const wake of set ?? []) wake();
    }
    if (!added) return;
    const value = JSON.stringify([...this.types]);
    // a list lost in a crash is sent again by the proxy on the next WELCOME
    this.committer.defer(() => this.save(value));
  }

  /** Resolves true once `type` is known, false after `ms`. */
  waitFor(type: string, ms: number): Promise<boolean> {
    if (this.types.has(type)) return Promise.resolve(true);
    return new Promise((resolve) => {
      let set = this.waiters.get(type);
      if (!set) this.waiters.set(type, (set = new Set()));
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        set.delete(wake);
        if (set.size === 0) this.waiters.delete(type);
        resolve(false);
      }, ms);
      set.add(wake);
    });
  }
}
