import { readFileSync } from 'node:fs';
import t from 'tap';
import { formatErr, PROCESS_CODES, WIRE_CODES, WireError } from '../shared/errors.js';

t.test('every wire error code is documented and formats as one line', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const code of Object.keys(WIRE_CODES) as Array<keyof typeof WIRE_CODES>) {
    t.match(readme, `\`${code}\``, `${code} is in the README`);
    const line = new WireError(code, 'two\nlines').toLine();
    t.equal(line, `ERR ${code} two lines`);
  }
  t.equal(formatErr('BUSY'), `ERR BUSY ${WIRE_CODES.BUSY}`, 'a default message per code');
});

t.test('every code a process exits with is documented', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const code of Object.keys(PROCESS_CODES)) {
    t.match(readme, `\`${code}\``, `${code} is in the README`);
  }
});
