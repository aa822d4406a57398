import t from 'tap';
import { EXIT } from '../cli/exit-codes.js';
import { petrel } from './helpers/petrel-cli.js';

t.test('petrel --help names every exit code the README lists', async (t) => {
  const r = await petrel(['--help']);
  t.equal(r.code, 0);
  const told = r.stdout.slice(r.stdout.indexOf('Exit codes:')).replace(/\s+/g, ' ');
  for (const [name, code] of Object.entries(EXIT)) {
    t.match(told, new RegExp(`\\b${code}\\b`), `${name} (${code})`);
  }
});
