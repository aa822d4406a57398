import t from 'tap';
import { dropMarker, OutputClip } from '../shared/output-clip.js';

function clip(limit: number, ...chunks: Array<string | Buffer>) {
  const c = new OutputClip(limit);
  for (const ch of chunks) c.push(typeof ch === 'string' ? Buffer.from(ch) : ch);
  return c.result();
}

t.test('output within the limit is kept whole, however it was chunked', async (t) => {
  t.same(clip(1000, 'hello ', 'world'), { text: 'hello world', dropped: 0 });
  const text = 'x'.repeat(1000);
  t.same(clip(1000, text.slice(0, 333), text.slice(333)), { text, dropped: 0 });
  t.same(clip(1000), { text: '', dropped: 0 });
});

t.test('past the limit: head, a marker with the dropped count, tail', async (t) => {
  const text = `${'H'.repeat(5000)}${'m'.repeat(10_000)}${'T'.repeat(5000)}`;
  const r = clip(1000, text);
  t.ok(Buffer.byteLength(r.text) <= 1000);
  t.ok(Buffer.byteLength(r.text) >= 990, 'the limit is used, not wasted');
  t.match(r.text, /^H{500}\n\[\.\.\. \d+ bytes dropped \.\.\.\]\nT+$/);
  t.equal(r.text.indexOf(dropMarker(r.dropped)), 500);
  t.equal(Buffer.byteLength(r.text) - dropMarker(r.dropped).length + r.dropped, 20_000);
});

t.test('the tail follows the newest bytes across many small chunks', async (t) => {
  const c = new OutputClip(200);
  for (let i = 0; i < 10_000; i++) c.push(Buffer.from(`${i}\n`));
  const r = c.result();
  t.ok(r.text.startsWith('0\n1\n2\n'));
  t.ok(r.text.endsWith('9998\n9999\n'));
  t.ok(Buffer.byteLength(r.text) <= 200);
  t.equal(c.total, r.dropped + Buffer.byteLength(r.text) - dropMarker(r.dropped).length);
});

t.test('cuts never split a character', async (t) => {
  const e = 'é'.repeat(1000); // 2000 bytes
  const r = clip(301, Buffer.from(e));
  t.notMatch(r.text, /\uFFFD/);
  t.ok(Buffer.byteLength(r.text) <= 301);
  const bytes = Buffer.from(e);
  // split inside a character across chunks
  const whole = clip(2000, bytes.subarray(0, 1001), bytes.subarray(1001));
  t.equal(whole.text, e);
});

t.test('a limit too small for a marker only cuts the end; 0 keeps nothing', async (t) => {
  t.same(clip(5, 'ééé'), { text: 'éé', dropped: 2 });
  t.same(clip(0, 'abc'), { text: '', dropped: 3 });
});

t.test('memory stays bounded: a huge output keeps at most the limit', async (t) => {
  const c = new OutputClip(4096);
  const chunk = Buffer.alloc(65536, 'z');
  for (let i = 0; i < 1600; i++) c.push(chunk); // 100 MiB
  const r = c.result();
  t.equal(c.total, 1600 * 65536);
  t.ok(Buffer.byteLength(r.text) <= 4096);
  t.equal(r.dropped + Buffer.byteLength(r.text) - dropMarker(r.dropped).length, c.total);
});
