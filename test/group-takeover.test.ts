import t from 'tap';
import { LineClient } from './helpers/cluster.js';
import {
  etcd,
  explainOnFailure,
  leaderOf,
  NO_ETCD,
  startGroup,
  startGroupNodes as startNodes,
} from './helpers/group.js';

// its own file: on a loaded machine this one test can take most of a file's time limit

if (!etcd) {
  t.comment(`skipped: ${NO_ETCD}`);
  t.pass('skipped: etcd is absent');
} else {
  t.test(
    'kill -9 of the leader under load: a follower takes over, nothing is lost',
    // a hang fails here, with the processes' warnings, before the file's own limit
    { timeout: 180_000 },
    async (t) => {
      const g = await startGroup(t.teardown, 3);
      const urls = g.proxies.map((p) => p.url).join(',');
      const nodes = await startNodes(t.teardown, urls, 3);
      explainOnFailure(t, () => [
        ...g.proxies.map((p, i) => ({ name: `proxy ${i}`, proc: p.proc })),
        ...nodes.map((n, i) => ({ name: `node ${i}`, proc: n.proc })),
      ]);
      let leader = await leaderOf(g.proxies, 3);
      const clients = await Promise.all(nodes.map((n) => LineClient.connect(n.port, t.teardown)));
      const tickets: Array<{ c: LineClient; tk: string; text: string }> = [];
      const submit = async (round: number) => {
        for (const [i, c] of clients.entries()) {
          const text = `r${round}-c${i}`;
          const reply = await c.ask(`SUBMIT {"type":"echo","args":["${text}"]}`);
          t.match(reply, /^OK [0-9A-Z]{26}$/, 'accepted while the group changes leader');
          tickets.push({ c, tk: reply.slice(3), text });
        }
      };
      for (let kill = 0; kill < 2; kill++) {
        for (let r = 0; r < 5; r++) await submit(kill * 10 + r);
        // sleeps hold slots, so some work is running or waiting on nodes at the kill
        for (const c of clients) await c.ask('SUBMIT sleep 300');
        await leader.proc.kill('SIGKILL');
        for (let r = 5; r < 10; r++) await submit(kill * 10 + r);
        const next = await leaderOf(g.proxies, 3);
        t.not(next, leader, 'another proxy leads');
        leader.proc = (await g.start(g.proxies.indexOf(leader))).proc; // back as a follower
        leader = next;
      }
      // one deadline for them all: a stuck ticket costs it once, not once per ticket
      const deadline = Date.now() + 60_000;
      for (const { c, tk, text } of tickets) {
        const ms = Math.max(100, deadline - Date.now());
        const r = await c.ask(`WAIT ${tk} ${ms}`, ms + 5_000);
        if (!r.includes('"state":"done"')) {
          t.comment(`${text} ${tk}: ${r}; the leader has: ${await jobAt(leader.port, tk)}`);
        }
        t.match(r, new RegExp(`"state":"done".*"output":"${text}"`), `${text} done once`);
        t.equal(await c.ask(`RESULT ${tk}`), r, 'its result does not change');
        const other = clients.find((x) => x !== c) as LineClient;
        const seen = JSON.parse((await other.ask(`RESULT ${tk}`, 30_000)).slice(3)) as {
          output: string;
        };
        t.equal(seen.output, text, 'another node answers the same, whichever proxy recorded it');
      }
    },
  );
}

/** What a proxy's HTTP API says of one ticket, as text (for a failure's explanation). */
async function jobAt(port: number, tk: string): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/jobs/${tk}`, {
      signal: AbortSignal.timeout(2000),
    });
    return `${res.status} ${await res.text()}`;
  } catch (e) {
    return String(e);
  }
}
