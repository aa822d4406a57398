import t from 'tap';
import { startCluster } from './helpers/cluster.js';
import { petrel } from './helpers/petrel-cli.js';

const TICKET = /^[0-9A-HJKMNP-TV-Z]{26}$/;

t.test('petrel submit --json: a spec, JSON output, or both', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const env = { PETREL_ADDR: `127.0.0.1:${nodes[0]!.clientPort}` };
  const spec = JSON.stringify({ type: 'echo', args: ['from', 'a', 'spec'] });

  // the spec alone: the bare ticket, so t=$(petrel submit --json '{...}') works
  const bare = await petrel(['submit', '--json', spec], { env });
  t.equal(bare.code, 0, bare.stderr);
  t.match(bare.stdout, /^[0-9A-Z]{26}\n$/);
  const waited = await petrel(['wait', '--json', bare.stdout.trim()], { env });
  t.match(JSON.parse(waited.stdout), { state: 'done', output: 'from a spec' }, 'the spec ran');

  // the flag as well, before or after the spec, or the flag alone: JSON output
  for (const args of [
    ['--json', 'submit', '--json', spec],
    ['submit', '--json', spec, '--json'],
    ['submit', '--json', 'echo', 'x'],
    ['--json', 'submit', 'echo', 'x'],
  ]) {
    const r = await petrel(args, { env });
    t.equal(r.code, 0, r.stderr);
    t.match(JSON.parse(r.stdout), { ticket: TICKET }, `${args.join(' ')}: {"ticket":...}`);
  }

  // run and map take a program: a spec there is refused with where it goes, never run
  for (const command of ['run', 'map']) {
    const r = await petrel([command, '--json', spec], { env, input: 'a\n' });
    t.equal(r.code, 64, `${command} --json {spec}: a usage error`);
    t.match(r.stderr, 'takes a program, not a job spec: a spec goes to petrel submit --json');
  }
});
