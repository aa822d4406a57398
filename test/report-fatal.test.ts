import t from 'tap';
import { loadNodeConfig } from '../shared/config.js';
import { PetrelError } from '../shared/errors.js';
import { reportFatal } from '../shared/lifecycle.js';

/** What `who`'s main prints for `err`. */
function printed(err: unknown, who = 'petrel-node'): string[] {
  const lines: string[] = [];
  reportFatal(err, who, (text) => lines.push(text));
  return lines;
}

t.test('a start-up failure is one line naming the program once', (t) => {
  let refused: unknown;
  try {
    loadNodeConfig({ SLOTS: '0' });
  } catch (err) {
    refused = err;
  }
  const [line, ...more] = printed(refused);
  t.same(more, [], 'one line');
  t.match(line, /^petrel-node: ERR_CONFIG_INVALID: invalid configuration \(1 problem\): SLOTS="0"/);
  t.equal(
    line?.split('petrel-node').length,
    2,
    'the name once, not "petrel-node: …: petrel-node:"',
  );

  t.same(printed(new PetrelError('ERR_DATA_DIR', 'the data directory /x is in use')), [
    'petrel-node: ERR_DATA_DIR: the data directory /x is in use',
  ]);
  t.same(printed(new Error('boom'), 'petrel-proxy'), ['petrel-proxy: boom'], 'any other error');
  t.end();
});
