import t from 'tap';
import { petrel } from './helpers/petrel-cli.js';

// no cluster: the bound is checked before anything is sent (127.0.0.1:1 answers nobody)
const env = { PETREL_ADDR: '127.0.0.1:1' };

t.test(
  '--retries is bounded by its own count (runs after the first), before any submit',
  async (t) => {
    for (const args of [
      ['submit', '--retries', '20', 'exec', 'false'],
      ['run', '--retries', '20', '--', 'false'],
      ['map', '--retries', '20', '--', 'echo'],
    ]) {
      const r = await petrel(args, { env, input: 'a\n' });
      t.equal(r.code, 64, `${args[0]}: bad usage`);
      t.match(
        r.stderr,
        /--retries takes a whole number from 0 to 19/,
        `${args[0]}: names the bound`,
      );
    }
    const ok = await petrel(['submit', '--retries', '19', 'exec', 'false'], { env });
    t.equal(ok.code, 69, '19 retries (20 runs) is a valid spec: it goes on to find no node');
  },
);
