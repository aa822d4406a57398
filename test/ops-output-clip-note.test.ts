import t from 'tap';
import { clipNote, OutputClip } from '../shared/output-clip.js';

const numbers = Buffer.from(Array.from({ length: 2000 }, (_, i) => String(i + 1)).join('\n'));

t.test('the note says where the bytes were dropped', (t) => {
  const tiny = new OutputClip(20);
  tiny.push(numbers);
  const head = tiny.result();
  t.notMatch(head.text, /bytes dropped/, 'no room for a marker: the start only');
  t.equal(
    clipNote(20, head),
    `output clipped to JOB_OUTPUT_LIMIT (20 bytes): ${head.dropped} bytes dropped from the end; LOGS reads them`,
  );
  const wide = new OutputClip(1000);
  wide.push(numbers);
  const both = wide.result();
  t.match(both.text, /bytes dropped/, 'a marker between head and tail');
  t.match(clipNote(1000, both), /bytes dropped from the middle; LOGS reads them$/);
  const whole = new OutputClip(1000);
  whole.push(Buffer.from('short'));
  t.equal(clipNote(1000, whole.result()), null, 'nothing dropped, no note');
  t.end();
});
