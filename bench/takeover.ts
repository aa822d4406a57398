import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { installCleanupHandlers, onCleanup } from './cleanup.js';
import { etcdBinary, startEtcd } from './etcd.js';
import {
  awaitLeader,
  startGroupNodes,
  startMember,
  startMembers,
  type GroupMember,
} from './group-cluster.js';
import { LineClient } from './line-client.js';
import { stopAllChildren } from './processes.js';
import { median } from './stats.js';

/**
 * `npm run bench:takeover`: three proxies in a group over one etcd, three nodes listing all
 * of them, clients submitting jobs all along, and the leader killed with SIGKILL again and
 * again. Reports how long each takeover took, whether any accepted job was lost, and how many
 * jobs ran more than once (each job appends its own token to a file when it starts).
 *
 *   --kills n     leader kills (default 10)   --ttl s    ETCD_LEASE_TTL (default 2)
 *   --rate n      jobs per second (default 60) --gap ms  steady load between kills (2000)
 */
interface Options {
  kills: number;
  ttl: number;
  rate: number;
  gap: number;
}

function options(argv: string[]): Options {
  const o: Options = { kills: 10, ttl: 2, rate: 60, gap: 2000 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]?.replace(/^--/, '') as keyof Options;
    const value = Number(argv[i + 1]);
    if (!(key in o) || !Number.isFinite(value) || value <= 0) {
      throw new Error(`bad option ${argv[i]} ${argv[i + 1]} (see bench/takeover.ts)`);
    }
    o[key] = value;
  }
  return o;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Takeover {
  elected: number;
  joined: number;
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const bin = etcdBinary();
  if (!bin) throw new Error('etcd is not installed (apt-get install -y etcd-server)');
  installCleanupHandlers(() => stopAllChildren());
  const dir = mkdtempSync(join(tmpdir(), 'petrel-takeover-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  const runs = join(dir, 'runs.log');
  writeFileSync(runs, '');
  const etcd = await startEtcd(bin);
  const env = { ETCD_LEASE_TTL: String(o.ttl), DURABILITY: 'relaxed' };
  const members = await startMembers(3, dir, etcd, env);
  const nodes = await startGroupNodes(3, dir, members, {
    SLOTS: '4',
    EXEC_ALLOW: 'sh',
    DURABILITY: 'relaxed',
  });
  let leader = await awaitLeader(members, nodes.length, 60_000);
  if (!leader) {
    const tails = [...members, ...nodes].map((x) => `--- ${x.child.name}\n${x.child.tail()}`);
    throw new Error(`no leader with every node joined within 60 s\n${tails.join('\n')}`);
  }
  const clients = await Promise.all(nodes.map((n) => LineClient.connect(n.clientPort)));
  const tickets: Array<{ client: LineClient; ticket: string }> = [];
  let refused = 0;
  let seq = 0;
  const submitOne = () => {
    const client = clients[seq % clients.length] as LineClient;
    const token = `job-${seq++}`;
    const spec = { type: 'exec', args: ['sh', '-c', `echo ${token} >> ${runs}; sleep 0.1`] };
    client.send(`SUBMIT ${JSON.stringify(spec)}`, (reply) => {
      if (reply.startsWith('OK ')) tickets.push({ client, ticket: reply.slice(3) });
      else refused++;
    });
  };
  const load = setInterval(submitOne, 1000 / o.rate);

  const takeovers: Takeover[] = [];
  for (let k = 0; k < o.kills; k++) {
    await new Promise((r) => setTimeout(r, o.gap));
    const dead: GroupMember = leader;
    const t0 = performance.now();
    dead.child.proc.kill('SIGKILL');
    let elected = NaN;
    const others = members.filter((m) => m !== dead);
    leader = await awaitLeader(others, nodes.length, 30_000, () => {
      elected = performance.now() - t0;
    });
    if (!leader) throw new Error(`kill ${k + 1}: no takeover within 30 s`);
    takeovers.push({ elected, joined: performance.now() - t0 });
    process.stdout.write(
      `kill ${k + 1}: ${fmt(elected)} to a new leader, ${fmt(performance.now() - t0)} to every node joined\n`,
    );
    await dead.child.exited;
    members[dead.index] = startMember(dead, etcd, env); // back, as a follower
  }
  clearInterval(load);

  let lost = 0;
  await Promise.all(
    tickets.map(async ({ client, ticket }) => {
      const r = await client.request(`WAIT ${ticket} 60000`);
      if (!/"state":"done"/.test(r)) lost++;
    }),
  );
  const started = readFileSync(runs, 'utf8').split('\n').filter(Boolean);
  const duplicates = started.length - new Set(started).size;
  report(o, takeovers, { accepted: tickets.length, refused, lost, duplicates });
  for (const c of clients) c.close();
  await stopAllChildren();
  await etcd.stop();
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function report(
  o: Options,
  takeovers: Takeover[],
  jobs: { accepted: number; refused: number; lost: number; duplicates: number },
): void {
  const elected = takeovers.map((x) => x.elected);
  const joined = takeovers.map((x) => x.joined);
  const rows: Array<[string, string]> = [
    ['leader kills', String(takeovers.length)],
    ['ETCD_LEASE_TTL', `${o.ttl} s`],
    ['kill → new leader, median', fmt(median(elected))],
    ['kill → new leader, max', fmt(Math.max(...elected))],
    ['kill → every node joined, median', fmt(median(joined))],
    ['kill → every node joined, max', fmt(Math.max(...joined))],
    ['jobs accepted', String(jobs.accepted)],
    ['submissions refused', String(jobs.refused)],
    ['jobs lost (not done)', String(jobs.lost)],
    ['jobs run more than once', String(jobs.duplicates)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write('\n' + rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
  const out = join(root, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'takeover.json'),
    JSON.stringify({ options: o, takeovers, jobs }, null, 2) + '\n',
  );
}

main().catch(async (err: unknown) => {
  process.stderr.write(`bench:takeover: ${err instanceof Error ? err.message : String(err)}\n`);
  await stopAllChildren().catch(() => undefined);
  process.exit(1);
});
