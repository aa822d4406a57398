import t from 'tap';
import { LogFramer, overLimitNote, PART_BYTES } from '../node/log-framer.js';
import { streamLinesOf } from '../node/log-lines.js';
import {
  decodeLog,
  LOG_HEADER,
  LogDecoder,
  logText,
  type OutputPiece,
  type OutputStream,
} from '../shared/run-log-format.js';

const b = (s: string) => Buffer.from(s);

/** A log file as the node writes it: the header, then the framer's records. */
function write(limit: number, chunks: Array<[OutputStream, string | Buffer]>): Buffer {
  const f = new LogFramer(limit);
  const out = chunks.map(([stream, data]) =>
    f.push(stream, typeof data === 'string' ? b(data) : data),
  );
  return Buffer.concat([b(LOG_HEADER), ...out, f.end()]);
}

/** Each stream's bytes, as the program printed them. */
function streams(pieces: OutputPiece[]): Record<OutputStream, string> {
  const all = (s: OutputStream) =>
    Buffer.concat(pieces.filter((p) => p.stream === s).map((p) => p.data)).toString();
  return { stdout: all('stdout'), stderr: all('stderr') };
}

t.test('each stream comes back byte for byte, lines in the order they were finished', async (t) => {
  const log = write(1000, [
    ['stdout', 'par'],
    ['stderr', 'warn: x\n'],
    ['stdout', 'tial\nnext\n\n'],
    ['stderr', 'no newline'],
    ['stdout', 'last'],
  ]);
  t.equal(
    log.toString(),
    `${LOG_HEADER}ewarn: x\nopartial\nonext\no\nOlast\nEno newline\n`,
    'one record per line, its mark first',
  );
  t.same(streams(decodeLog(log)), {
    stdout: 'partial\nnext\n\nlast',
    stderr: 'warn: x\nno newline',
  });
  t.same(streamLinesOf(decodeLog(log)), [
    { stream: 'stderr', text: 'warn: x' },
    { stream: 'stdout', text: 'partial' },
    { stream: 'stdout', text: 'next' },
    { stream: 'stdout', text: '' },
    { stream: 'stdout', text: 'last' },
    { stream: 'stderr', text: 'no newline' },
  ]);
  t.equal(logText(log), 'warn: x\npartial\nnext\n\nlastno newline', 'both, as one text');
});

t.test('a log read in chunks of any size decodes the same', async (t) => {
  const e = b('é');
  const log = write(1000, [
    ['stdout', Buffer.concat([b('a'), e.subarray(0, 1)])],
    ['stdout', Buffer.concat([e.subarray(1), b('\nb\n')])],
    ['stderr', 'oops\n'],
  ]);
  const whole = streamLinesOf(decodeLog(log));
  for (const size of [1, 2, 3, 7]) {
    const d = new LogDecoder();
    const pieces: OutputPiece[] = [];
    for (let i = 0; i < log.length; i += size) pieces.push(...d.push(log.subarray(i, i + size)));
    pieces.push(...d.end());
    t.same(streamLinesOf(pieces), whole, `in chunks of ${size}`);
  }
  t.same(whole, [
    { stream: 'stdout', text: 'aé' },
    { stream: 'stdout', text: 'b' },
    { stream: 'stderr', text: 'oops' },
  ]);
});

t.test('a log without the header is an older one: all of it is stdout', async (t) => {
  t.same(decodeLog(b('old\noutput')), [{ stream: 'stdout', data: b('old\noutput') }]);
  t.same(decodeLog(b('petr')), [{ stream: 'stdout', data: b('petr') }], 'even a header-like start');
  const d = new LogDecoder();
  t.same(d.push(b('petrel')), [], 'undecided until it differs');
  t.same(streams(d.push(b('-lo\nx'))), { stdout: 'petrel-lo\nx', stderr: '' });
  t.same(decodeLog(b('')), []);
  t.same(decodeLog(b(LOG_HEADER)), [], 'a header alone is an empty log');
});

t.test('a record cut off by the end of what was read is still shown', async (t) => {
  const log = write(1000, [['stderr', 'complete\nand cut']]);
  const cut = log.subarray(0, log.length - 4);
  t.same(streams(decodeLog(cut)), { stdout: '', stderr: 'complete\nand ' });
});

t.test('carriage returns and long lines are written before their newline', async (t) => {
  const f = new LogFramer(1_000_000);
  t.equal(f.push('stdout', b('10%\r20%\r3')).toString(), 'O10%\r20%\r\n', 'a progress bar at once');
  t.equal(f.push('stdout', b('0%')).length, 0, 'the rest of the line is held');
  t.equal(f.push('stdout', b('\n')).toString(), 'o30%\n');
  for (const c of 'one byte at a time') t.equal(f.push('stderr', b(c)).length, 0);
  t.equal(f.push('stderr', b('\n')).toString(), 'eone byte at a time\n');
  const long = Buffer.alloc(PART_BYTES + 10, 'x');
  const records = f.push('stderr', long);
  t.equal(records.length, PART_BYTES + 2, 'a part of PART_BYTES');
  t.equal(records[0], 'E'.charCodeAt(0));
  t.equal(f.end().toString(), `E${'x'.repeat(10)}\n`);
  const oneChunk = new LogFramer(1_000_000).push('stdout', Buffer.concat([long, b('\n')]));
  t.equal(oneChunk.length, PART_BYTES + 10 + 4, 'a long line in one chunk is cut in parts');
  t.same(streamLinesOf(decodeLog(Buffer.concat([b(LOG_HEADER), oneChunk]))), [
    { stream: 'stdout', text: long.toString() },
  ]);
});

t.test('the limit counts output bytes; past it one note on stderr, after every line', async (t) => {
  const chunks = Array.from(
    { length: 100 },
    () => ['stdout', '0123456789'] as [OutputStream, string],
  );
  const log = write(10, chunks);
  t.same(streamLinesOf(decodeLog(log)), [
    { stream: 'stdout', text: '0123456789' },
    { stream: 'stderr', text: overLimitNote(10, 990) },
  ]);
  const lines = write(12, [
    ['stdout', 'abcdef\n'],
    ['stderr', 'uvwxyz\n'],
    ['stdout', 'more\n'],
  ]);
  t.same(streamLinesOf(decodeLog(lines)), [
    { stream: 'stdout', text: 'abcdef' },
    { stream: 'stderr', text: 'uvwxy' },
    { stream: 'stderr', text: overLimitNote(12, 7) },
  ]);
  const parts = write(PART_BYTES, [['stdout', Buffer.alloc(PART_BYTES * 2, 'x')]]);
  t.same(
    streamLinesOf(decodeLog(parts)).map((l) => [l.stream, l.text.length]),
    [
      ['stdout', PART_BYTES],
      ['stderr', overLimitNote(PART_BYTES, PART_BYTES).length],
    ],
    'a line written in parts is ended before the note',
  );
  const none = new LogFramer(0);
  t.equal(none.push('stdout', b('x\n')).length, 0, 'a limit of 0 keeps nothing');
  t.equal(none.end().length, 0, 'not even a note');
});

t.test('after stop nothing more is kept, only counted', async (t) => {
  const f = new LogFramer(1000);
  t.equal(f.push('stdout', b('a\n')).toString(), 'oa\n');
  f.stop();
  t.equal(f.push('stdout', b('b\n')).length, 0);
  t.equal(f.dropped, 2);
});
