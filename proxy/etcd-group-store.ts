import type { Etcd3 } from 'etcd3';
import type { Logger } from '../shared/log.js';
import { EtcdWarnings } from './etcd-warnings.js';
import {
  decodeSchedule,
  nodeOfKey,
  typeOfKey,
  type GroupKeys,
  type GroupSchedule,
  type GroupWriter,
} from './group-state.js';

/** The leader's election key and its creation revision (the epoch): what fences its writes. */
export interface Fence {
  key: string;
  epoch: number;
}

export interface LoadedGroupState {
  schedules: GroupSchedule[];
  types: string[];
  /** The nodes that joined earlier leaders and were not forgotten. */
  nodes?: string[];
}

/**
 * Reads the group's state as a new leader finds it. Every write of an earlier leader was
 * fenced by its election key, which was gone before this proxy was elected: nothing it sent
 * can land after this read.
 */
export async function loadGroupState(
  client: Etcd3,
  keys: GroupKeys,
  log: Logger,
): Promise<LoadedGroupState> {
  const [stored, typeKeys, nodeKeys] = await Promise.all([
    client.getAll().prefix(keys.schedules).strings(),
    client.getAll().prefix(keys.types).keys(),
    client.getAll().prefix(keys.nodes).keys(),
  ]);
  const schedules: GroupSchedule[] = [];
  for (const [key, text] of Object.entries(stored)) {
    const g = decodeSchedule(text);
    if ('error' in g) log.error({ key, why: g.error }, 'ignoring an unreadable schedule in etcd');
    else schedules.push(g);
  }
  const types = typeKeys.map((k) => typeOfKey(k, keys.types)).filter((t) => t !== undefined);
  const nodes = nodeKeys.map((k) => nodeOfKey(k, keys.nodes)).filter((n) => n !== undefined);
  return { schedules, types, nodes };
}

const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 1000;

/**
 * The leader's writes to etcd: each a transaction that applies only while the leader's
 * election key still exists with its epoch as creation revision, so a deposed leader (its
 * lease expired, its key deleted) writes nothing. Writes to one key apply in order; one that
 * fails for want of an answer is sent again (the same value, so a repeat is harmless) while
 * this proxy leads.
 */
export class EtcdGroupWriter implements GroupWriter {
  private readonly chains = new Map<string, Promise<boolean>>();
  private readonly warnings: EtcdWarnings;

  constructor(
    private readonly client: Etcd3,
    private readonly fence: Fence,
    /** Whether this proxy still leads under the fence's epoch. */
    private readonly active: () => boolean,
    /** etcd refused a write: the election key is gone, this proxy no longer leads. */
    private readonly deposed: () => void,
    log: Logger,
  ) {
    this.warnings = new EtcdWarnings(log);
  }

  put(key: string, value: string): Promise<boolean> {
    return this.serial(key, () => this.fenced(this.client.put(key).value(value)));
  }

  remove(key: string): Promise<boolean> {
    return this.serial(key, () => this.fenced(this.client.delete().key(key)));
  }

  private async fenced(op: Parameters<ReturnType<Etcd3['if']>['then']>[0]): Promise<boolean> {
    const { key, epoch } = this.fence;
    const res = await this.client.if(key, 'Create', '==', epoch).then(op).commit();
    return res.succeeded;
  }

  private serial(key: string, op: () => Promise<boolean>): Promise<boolean> {
    const before = this.chains.get(key) ?? Promise.resolve(true);
    const next = before.then(() => this.retry(key, op));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
    return next;
  }

  private async retry(key: string, op: () => Promise<boolean>): Promise<boolean> {
    for (let wait = RETRY_FIRST_MS; ; wait = Math.min(2 * wait, RETRY_MAX_MS)) {
      if (!this.active()) return false;
      try {
        const applied = await op();
        this.warnings.ok(key, 'an etcd write went through again');
        if (applied) return true;
        this.deposed();
        return false;
      } catch (err) {
        this.warnings.failed(key, err, 'an etcd write failed; trying again', { key });
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}
