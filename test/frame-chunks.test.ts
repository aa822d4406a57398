import t from 'tap';
import { chunkPairs, chunks } from '../bench/frame-chunks.js';
import { MAX_BATCH } from '../shared/protocol.js';

t.test('chunks cut a list into frames of at most MAX_BATCH', (t) => {
  t.same(chunks([]), []);
  t.same(chunks([], true), [[]], 'one empty frame when asked for');
  t.same(chunks([1, 2]), [[1, 2]]);
  const many = Array.from({ length: 2 * MAX_BATCH + 1 }, (_, i) => i);
  const cut = chunks(many);
  t.same(
    cut.map((c) => c.length),
    [MAX_BATCH, MAX_BATCH, 1],
  );
  t.same(cut.flat(), many, 'in order, none lost');
  t.end();
});

t.test('chunkPairs cuts two lists alike', (t) => {
  const a = Array.from({ length: MAX_BATCH + 2 }, (_, i) => `a${i}`);
  const pairs = chunkPairs(a, ['b0']);
  t.equal(pairs.length, 2);
  t.same(pairs[0]?.[1], ['b0']);
  t.same(pairs[1], [a.slice(MAX_BATCH), []]);
  t.same(chunkPairs([], []), []);
  t.end();
});
