import { renameSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runDist } from './helpers/petrel-cli.js';
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import WebSocket, { WebSocketServer } from 'ws';
import { runsWithoutProxy } from '../node/local-fallback.js';
import { ProxyTargets } from '../node/proxy-targets.js';
import { JobSpecSchema } from '../shared/job.js';
import { PROTOCOL_VERSION, READS_HEADER } from '../shared/protocol.js';
import {
  freePort,
  LineClient,
  spawnNode,
  spawnProxy,
  startProxy,
  tempDir,
  until,
} from './helpers/cluster.js';
import { submitSpec } from './helpers/line-jobs.js';

t.test('another incarnation of the proxy file than last welcomed with: tell it all', async (t) => {
  const fresh = new ProxyTargets(['ws://x/cluster']);
  t.equal(fresh.fileWelcomed(7), 'first', 'a first join only remembers it');
  t.equal(fresh.incarnation, 7);
  t.equal(fresh.fileWelcomed(7), 'same', 'the same file again');
  t.equal(fresh.fileWelcomed(undefined), 'same', 'a proxy of an earlier release: as before');
  t.equal(fresh.incarnation, 7, 'and it is still remembered');
  t.equal(fresh.fileWelcomed(9), 'other', 'a restored or new file');
  t.equal(fresh.incarnation, 9);
  t.equal(fresh.fileWelcomed(9), 'same');

  const restarted = new ProxyTargets(['ws://x/cluster'], 0, 9);
  t.equal(restarted.fileWelcomed(9), 'same', 'remembered across a restart');
  t.equal(restarted.fileWelcomed(4), 'other');
  const upgraded = new ProxyTargets(['ws://x/cluster'], 3);
  t.equal(upgraded.fileWelcomed(4), 'first', 'a node of an earlier release has none');
});

/** Joins `port` as a bare node (with or without READS_HEADER); the WELCOME it gets. */
async function welcome(t: Test, port: number, nodeId: string, reads?: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/cluster`, {
    headers: reads ? { [READS_HEADER]: reads } : {},
  });
  t.teardown(() => ws.terminate());
  return new Promise<Record<string, unknown>>((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as Record<string, unknown>;
      if (frame.type === 'WELCOME') return resolve(frame);
      const hello = { type: 'HELLO', version: PROTOCOL_VERSION, nodeId, slots: 1, proof: null };
      ws.send(JSON.stringify({ ...hello, holds: [] }));
    });
  });
}

t.test('WELCOME names the incarnation only to a node that reads it', async (t) => {
  const dir = tempDir(t.teardown);
  const proxy = await startProxy(t.teardown, {}, dir);
  const older = await welcome(t, proxy.port, 'older');
  t.notOk('incarnation' in older, 'a node of an earlier release (strict WELCOME) is not sent it');
  const newer = await welcome(t, proxy.port, 'newer', 'incarnation');
  t.type(newer.incarnation, 'number');
  t.ok(
    (newer.incarnation as number) >= 1 && (newer.incarnation as number) < 2 ** 48,
    '1 to 2^48 - 1',
  );
  await proxy.close();
  const again = await startProxy(t.teardown, {}, dir);
  const same = await welcome(t, again.port, 'newer', 'incarnation');
  t.equal(same.incarnation, newer.incarnation, 'kept in the file across a restart');
});

/** `petrel-proxy --backup <dest>` of the proxy on `dataDir`. */
async function backup(dataDir: string, dest: string): Promise<string> {
  const r = await runDist('proxy/main.js', ['--backup', dest], { env: { DATA_DIR: dataDir } });
  const out = r.stdout + r.stderr;
  if (r.code !== 0) throw new Error(`backup failed (${r.code}): ${out}`);
  return out;
}

/** One proxy, one node, a client, and a delayed job the proxy acknowledged. */
async function delayedJob(
  t: Test,
  before?: (proxyDir: string, c: LineClient, port: number) => Promise<void>,
) {
  const proxyDir = tempDir(t.teardown);
  const proxy = await spawnProxy(t.teardown, proxyDir);
  const node = await spawnNode(t.teardown, proxy.port, tempDir(t.teardown), { NODE_ID: 'origin' });
  const c = await LineClient.connect(node.port, t.teardown);
  t.match(await c.ask(`WAIT ${await submitSpec(c, { type: 'echo', args: ['a'] })} 20000`), /done/);
  await before?.(proxyDir, c, proxy.port);
  const ticket = await submitSpec(c, { type: 'echo', args: ['later'], delayMs: 3000 });
  await until(async () => (await c.ask(`STATUS ${ticket}`)) === 'OK scheduled', 10_000);
  t.equal(await proxy.proc.kill('SIGTERM'), 0, 'the proxy stops');
  return { proxy, proxyDir, node, c, ticket };
}

t.test('a proxy restored from a backup is sent the jobs it acknowledged after it', async (t) => {
  const copy = join(tempDir(t.teardown), 'proxy-copy.db');
  let schedule = '';
  let port = 0;
  const listed = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/api/schedules`);
    return ((await r.json()) as { schedules: Array<{ ticket: string }> }).schedules;
  };
  const { proxy, proxyDir, c, ticket } = await delayedJob(t, async (dir, c, proxyPort) => {
    port = proxyPort;
    await backup(dir, copy);
    const spec = { type: 'echo', args: ['nightly'], cron: '0 3 * * *' };
    schedule = (await c.ask(`SUBMIT ${JSON.stringify(spec)}`)).slice(3);
    await until(async () => (await listed()).some((v) => v.ticket === schedule), 10_000);
  });
  for (const tail of ['-wal', '-shm']) rmSync(join(proxyDir, `proxy.db${tail}`), { force: true });
  renameSync(copy, join(proxyDir, 'proxy.db'));
  await spawnProxy(t.teardown, proxyDir, {}, proxy.port);
  t.match(await c.ask(`WAIT ${ticket} 20000`, 25_000), /"state":"done"/, 'the delayed job runs');
  // a schedule made after the copy is an open ticket of its node too: it comes back
  await until(async () => (await listed()).some((v) => v.ticket === schedule), 20_000);
  t.pass('a schedule made after the copy is back on the restored proxy');
});

t.test('a proxy started again on an empty DATA_DIR is sent the open jobs', async (t) => {
  const { proxy, c, ticket } = await delayedJob(t);
  await spawnProxy(t.teardown, tempDir(t.teardown), {}, proxy.port);
  t.match(await c.ask(`WAIT ${ticket} 20000`, 25_000), /"state":"done"/, 'the delayed job runs');
});

/**
 * A relay between a node and the proxy on `proxyPort` that, while `swallow` is set, drops the
 * node's JOB frames (its forwards): the proxy never hears of them, as when the node crashes
 * before they arrive. Each connection of the node gets a connection of its own to the proxy.
 */
async function forwardSwallower(teardown: (fn: () => unknown) => void, proxyPort: number) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  teardown(() => new Promise((r) => wss.close(r)));
  const relay = { port: (wss.address() as AddressInfo).port, swallow: false, swallowed: 0 };
  wss.on('connection', (inbound, req) => {
    const headers = { [READS_HEADER]: String(req.headers[READS_HEADER.toLowerCase()] ?? '') };
    const outbound = new WebSocket(`ws://127.0.0.1:${proxyPort}/cluster`, { headers });
    const pending: string[] = [];
    inbound.on('message', (d) => {
      const text = d.toString();
      if (relay.swallow && (JSON.parse(text) as { type: string }).type === 'JOB') {
        relay.swallowed++;
        return;
      }
      if (outbound.readyState === WebSocket.OPEN) outbound.send(text);
      else pending.push(text);
    });
    outbound.on('open', () => pending.splice(0).forEach((p) => outbound.send(p)));
    outbound.on('message', (d) => inbound.send(d.toString()));
    const closeBoth = () => (inbound.terminate(), outbound.terminate());
    inbound.on('close', closeBoth);
    outbound.on('close', closeBoth);
    inbound.on('error', () => {});
    outbound.on('error', () => {});
  });
  return relay;
}

/** The proxy incarnation a node's file keeps (read beside the running node, as WAL allows). */
function keptIncarnation(nodeDir: string): string | undefined {
  const db = new Database(join(nodeDir, 'node.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare("SELECT value FROM meta WHERE key = 'proxy_incarnation'").get();
    return (row as { value: string } | undefined)?.value;
  } finally {
    db.close();
  }
}

t.test('a node that crashes before a new proxy file has its jobs sends them again', async (t) => {
  const proxyPort = await freePort();
  const proxy = await spawnProxy(t.teardown, tempDir(t.teardown), {}, proxyPort);
  const relay = await forwardSwallower(t.teardown, proxyPort);
  const nodeDir = tempDir(t.teardown);
  const env = { NODE_ID: 'origin', LOCAL_FALLBACK: '0' };
  const node = await spawnNode(t.teardown, relay.port, nodeDir, env);
  const c = await LineClient.connect(node.port, t.teardown);
  const ticket = await submitSpec(c, { type: 'echo', args: ['later'], delayMs: 4000 });
  await until(async () => (await c.ask(`STATUS ${ticket}`)) === 'OK scheduled', 10_000);
  const first = await until(() => keptIncarnation(nodeDir), 10_000);
  t.equal(await proxy.proc.kill('SIGTERM'), 0, 'the proxy stops');

  // a proxy on a new file: the node keeps its incarnation, then dies before it hears the job
  relay.swallow = true;
  const second = await spawnProxy(t.teardown, tempDir(t.teardown), {}, proxyPort);
  await until(() => keptIncarnation(nodeDir) !== first && relay.swallowed > 0, 20_000);
  await node.proc.kill('SIGKILL');
  relay.swallow = false;

  const again = await spawnNode(t.teardown, relay.port, nodeDir, env);
  const c2 = await LineClient.connect(again.port, t.teardown);
  const ended = await c2.ask(`WAIT ${ticket} 20000`, 25_000);
  t.match(ended, /"state":"done"/, 'the delayed job runs on the new proxy file');
  t.match(ended, /later/);
  await second.proc.kill('SIGTERM');
});

t.test('LOCAL_FALLBACK never runs a job that waits for a time or for other jobs', async (t) => {
  const spec = (extra: object) => JobSpecSchema.parse({ type: 'echo', args: ['x'], ...extra });
  t.ok(runsWithoutProxy(spec({})));
  t.notOk(runsWithoutProxy(spec({ delayMs: 1000 })));
  t.notOk(runsWithoutProxy(spec({ runAt: Date.now() + 1000 })));
  // a claimed job sent again to a proxy that may lack it waits for one that knows its after
  t.notOk(runsWithoutProxy(spec({ after: ['01M8N95DJSFCSS7R4A8TAF97G2'] })));
});
