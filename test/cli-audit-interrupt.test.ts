import t from 'tap';
import { until } from './helpers/cluster.js';
import { lineServer } from './helpers/line-server.js';
import { spawnPetrel } from './helpers/petrel-cli.js';

const TICKET = '01M8VZJKTXD3XN1A5T1W403XNK';

/** A node that takes the job, prints nothing more of it and never answers the CANCEL. */
function stubborn(seen: string[]) {
  return (line: string) => {
    seen.push(line);
    if (line === 'PING') return 'OK PONG';
    if (line.startsWith('SUBMIT ')) return `OK ${TICKET}`;
    if (line.startsWith('TAIL ')) return '> started';
    return undefined;
  };
}

for (const args of [
  ['run', '--no-cwd', '--', 'sh', '-c', 'sleep 60'],
  ['map', '--', 'sh', '-c', 'sleep 60'],
]) {
  t.test(`petrel ${args[0]}: a second Ctrl-C stops waiting, exit 130`, async (t) => {
    const seen: string[] = [];
    const port = await lineServer(t.teardown, stubborn(seen));
    const { child, done } = spawnPetrel(['--addr', `127.0.0.1:${port}`, ...args], {
      input: 'a\n',
    });
    t.teardown(() => child.kill('SIGKILL'));
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    // Ctrl-C is petrel's to handle once it has submitted; the job follows its ticket after
    await until(() => seen.some((l) => /^(TAIL|WAIT|RESULT) /.test(l)) || undefined);
    child.kill('SIGINT');
    await until(() => stderr.includes('cancelling') || undefined);
    child.kill('SIGINT');
    const r = await done;
    t.equal(r.code, 130, r.stderr);
    t.match(
      r.stderr,
      `petrel: stopped waiting; see where ${TICKET} is with petrel status ${TICKET}`,
    );
    t.notMatch(r.stderr, /start a cluster|WireError|client was closed/, r.stderr);
  });
}
