import t from 'tap';
import { RestartPolicy, type RestartLimits } from '../scripts/restart-policy.js';

const limits: RestartLimits = {
  startGraceMs: 1000,
  maxExits: 3,
  windowMs: 60_000,
  delayMs: 1000,
  maxDelayMs: 3000,
};
const killed = { code: null, signal: 'SIGKILL' };

t.test('a process killed while it ran is restarted after a pause', async (t) => {
  const p = new RestartPolicy('node-9001', limits);
  t.same(p.decide(killed, 30_000, true, 100_000), {
    restart: true,
    delayMs: 1000,
    message: 'node-9001 exited (signal SIGKILL); restarting it in 1 s',
  });
  // a graceful exit nobody here asked for (someone else's SIGTERM) is restarted too
  t.match(p.decide({ code: 0, signal: null }, 30_000, true, 200_000), {
    restart: true,
    message: 'node-9001 exited (exit code 0); restarting it in 1 s',
  });
  t.match(p.decide({ code: 1, signal: null }, 30_000, true, 300_000), {
    restart: true,
    message: 'node-9001 exited (exit code 1); restarting it in 1 s',
  });
});

t.test('a process that could not start stops the cluster', async (t) => {
  const p = new RestartPolicy('proxy', limits);
  t.same(p.decide({ code: 1, signal: null }, 400, false, 0), {
    restart: false,
    message: 'proxy could not start (exit code 1)',
  });
  t.match(p.decide({ code: 1, signal: null }, 5000, false, 0), { restart: false }, 'never ready');
  t.match(
    p.decide({ code: 1, signal: null }, 400, true, 0),
    { restart: false },
    'ready, died at once',
  );
  t.match(p.decide(killed, 400, false, 0), { restart: true }, 'a signal is not a start failure');
});

t.test('repeated deaths: longer pauses, then the cluster stops', async (t) => {
  const p = new RestartPolicy('node-9000', limits);
  t.match(p.decide(killed, 5000, true, 0), { restart: true, delayMs: 1000 });
  t.match(p.decide(killed, 5000, true, 10_000), { restart: true, delayMs: 2000 });
  t.same(p.decide(killed, 5000, true, 20_000), {
    restart: false,
    message: 'node-9000 exited 3 times within 60 s (last: signal SIGKILL); not restarting it again',
  });
  const q = new RestartPolicy('node-9000', limits);
  for (let i = 0; i < 10; i++) {
    t.match(q.decide(killed, 60_000, true, i * 60_000), { restart: true, delayMs: 1000 });
  }
  t.end();
});
