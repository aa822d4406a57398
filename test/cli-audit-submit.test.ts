import t from 'tap';
import { freePort } from './helpers/cluster.js';
import { petrel } from './helpers/petrel-cli.js';

t.test(
  "submit --json '{...}' gives a spec, not JSON output: its error is a plain line",
  async (t) => {
    const env = { PETREL_ADDR: `127.0.0.1:${await freePort()}` };
    const plain = await petrel(['submit', '--json', '{bad'], { env });
    t.equal(plain.code, 64);
    t.equal(plain.stderr, 'petrel: --json: the spec is not valid JSON\n');
    // asked for JSON output as well: the error is JSON
    const both = await petrel(['--json', 'submit', '--json', '{bad'], { env });
    t.equal(both.code, 64);
    t.same(JSON.parse(both.stderr), {
      error: { code: 'BAD_REQUEST', message: '--json: the spec is not valid JSON' },
    });
    const after = await petrel(['submit', '--json', '{"type":"echo"}', '--json'], { env });
    t.equal(after.code, 69);
    t.match(JSON.parse(after.stderr), { error: { code: 'UNAVAILABLE' } });
    const refused = await petrel(['submit', '--json', '{"type":"echo"}'], { env });
    t.equal(refused.code, 69);
    t.match(refused.stderr, /^petrel: no node answers at /);
  },
);
