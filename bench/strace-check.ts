/**
 * Reads an `strace -f -y` trace of one Petrel process and checks the durability rule against
 * what the kernel saw: every id promised in a socket write (a ticket's `OK`, the proxy's `ACK`)
 * was first written to the database's WAL, and an fsync/fdatasync of that WAL finished after
 * that write and before the promise. Plain text in, counts out: no processes here.
 */

const ID_RUN = /[0-9A-HJKMNP-TV-Z]{26,}/g;

/**
 * Every id a written buffer may hold: in strace's escaped text an id can touch other
 * characters of its alphabet (`\\33` before it), so every 26-character window of each run counts.
 */
function idsIn(text: string): string[] {
  const ids: string[] = [];
  for (const m of text.matchAll(ID_RUN)) {
    const run = m[0];
    for (let i = 0; i + 26 <= run.length; i++) ids.push(run.slice(i, i + 26));
  }
  return ids;
}

/** What a promise looks like in a socket write: the ids a line promises. */
export type PromiseReader = (callText: string) => string[];

/** `OK <ticket>` replies to a line-protocol client. */
export const okReplies: PromiseReader = (text) =>
  [...text.matchAll(/OK ([0-9A-HJKMNP-TV-Z]{26})\\n/g)].map((m) => m[1] as string);

/**
 * The ids the proxy's ACK frames promise (strace shows the JSON's quotes escaped): forwarded
 * jobs (`jobs`) and results it recorded (`results`: an executor's, or one decided at the
 * origin, as under LOCAL_START).
 */
export const ackedIds: PromiseReader = (text) => {
  const ids: string[] = [];
  const acks = /"type":"ACK","jobs":\[([^\]]*)\],"results":\[([^\]]*)\]/g;
  for (const m of text.replace(/\\"/g, '"').matchAll(acks)) {
    for (const list of [m[1], m[2]] as string[]) {
      for (const q of list.matchAll(/"([0-9A-HJKMNP-TV-Z]{26})"/g)) ids.push(q[1] as string);
    }
  }
  return ids;
};

export interface TraceCounts {
  /** Ids promised on a socket. */
  promised: number;
  /** Different ids among them. */
  distinct: number;
  /** Of those, promised after their WAL write was synced. */
  proven: number;
  /** fsync/fdatasync calls on the WAL that finished. */
  syncs: number;
  /** Writes to the WAL. */
  walWrites: number;
  /** Promises that broke the rule, with why (the first 20). */
  violations: Array<{ id: string; why: string }>;
  violationCount: number;
}

interface Call {
  name: string;
  fd: string;
  text: string;
}

const START = /^(\d+\s+)?([a-z0-9_]+)\((\d+)<([^>]*)>(.*)$/;
const RESUMED = /^(\d+\s+)?<\.\.\. ([a-z0-9_]+) resumed>(.*)$/;

/**
 * Checks a trace. `walPath` tells the WAL file (`…/node.db-wal`); `promises` reads the ids a
 * socket write promises.
 */
export function checkTrace(
  trace: string,
  walPath: (path: string) => boolean,
  promises: PromiseReader,
): TraceCounts {
  const counts: TraceCounts = {
    promised: 0,
    distinct: 0,
    proven: 0,
    syncs: 0,
    walWrites: 0,
    violations: [],
    violationCount: 0,
  };
  const promisedIds = new Set<string>();
  const writtenAt = new Map<string, number>(); // id -> index of its first WAL write
  const syncedAt = new Map<string, number>(); // id -> index of the sync that covered it
  let unsynced: string[] = [];
  const open = new Map<string, { call: Call; at: number }>(); // pid -> unfinished call
  const lines = trace.split('\n');
  const violate = (id: string, why: string) => {
    counts.violationCount++;
    if (counts.violations.length < 20) counts.violations.push({ id, why });
  };
  const started = (c: Call, at: number) => {
    const isWal = walPath(c.fd);
    if (isWal && (c.name === 'pwrite64' || c.name === 'write' || c.name === 'writev')) {
      counts.walWrites++;
      for (const id of idsIn(c.text)) {
        if (writtenAt.has(id)) continue;
        writtenAt.set(id, at);
        unsynced.push(id);
      }
    } else if (
      !isWal &&
      c.fd.startsWith('socket:') &&
      (c.name === 'write' || c.name === 'writev')
    ) {
      for (const id of promises(c.text)) {
        counts.promised++;
        promisedIds.add(id);
        if (!writtenAt.has(id)) violate(id, 'promised before it was written to the WAL');
        else if (!syncedAt.has(id)) violate(id, 'promised before its WAL write was synced');
        else counts.proven++;
      }
    }
  };
  const finished = (c: Call, startedAt: number, at: number) => {
    if ((c.name !== 'fdatasync' && c.name !== 'fsync') || !walPath(c.fd)) return;
    counts.syncs++;
    // a sync covers the writes that happened before it started
    unsynced = unsynced.filter((id) => {
      if ((writtenAt.get(id) as number) >= startedAt) return true;
      syncedAt.set(id, at);
      return false;
    });
  };
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/^(\d+\s+)?\d+\.\d+\s+/, '$1');
    const resumed = RESUMED.exec(line);
    if (resumed) {
      const pid = resumed[1] ?? '';
      const o = open.get(pid);
      open.delete(pid);
      if (o) finished(o.call, o.at, i);
      continue;
    }
    const m = START.exec(line);
    if (!m) continue;
    const call: Call = { name: m[2] as string, fd: m[4] as string, text: m[5] as string };
    started(call, i);
    if (call.text.endsWith('<unfinished ...>')) open.set(m[1] ?? '', { call, at: i });
    else finished(call, i, i);
  }
  counts.distinct = promisedIds.size;
  return counts;
}
