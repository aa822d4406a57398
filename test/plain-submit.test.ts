import t from 'tap';
import { parseSubmit, validateSpec } from '../node/commands.js';
import { plainSpec, plainSubmit } from '../node/plain-submit.js';
import { MAX_ARG_BYTES, MAX_ARGS } from '../shared/job.js';

/** What `f` makes of a line: its spec, or its refusal's text. */
function verdict(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    return (e as Error).message;
  }
}

/** The schema's verdict on a plain SUBMIT. */
const bySchema = (rest: string) => verdict(() => validateSpec(plainSubmit(rest)));
/** What the SUBMIT path itself makes of it. */
const viaSubmit = (rest: string) => verdict(() => parseSubmit(rest));

const lines = [
  'echo x',
  'echo',
  'ECHO  hello   world ',
  'echo "a b" c',
  `echo ${'é'.repeat(MAX_ARG_BYTES)}`,
  `echo ${'x'.repeat(MAX_ARG_BYTES + 1)}`,
  'exec true',
  'exec /bin/sh -c "exit 3"',
  'exec',
  'exec ""',
  'exec "" x',
  'sleep 10',
  'sleep x',
  'sleep',
  'my.type a b',
  'my-type_2',
  'Thumbnail a',
  '1abc x',
  'a*b x',
  `${'a'.repeat(64)} x`,
  `${'a'.repeat(65)} x`,
  `my.type ${Array.from({ length: MAX_ARGS }, () => 'a').join(' ')}`,
  `my.type ${Array.from({ length: MAX_ARGS + 1 }, () => 'a').join(' ')}`,
  `exec ${'y'.repeat(MAX_ARG_BYTES + 1)}`,
];

t.test('a plain SUBMIT checked by hand gives what the schema gives', async (t) => {
  for (const rest of lines) {
    const fast = plainSpec(plainSubmit(rest));
    const schema = bySchema(rest);
    if (fast === undefined) {
      t.same(viaSubmit(rest), schema, `${rest.slice(0, 30)}: left to the schema, its verdict`);
      continue;
    }
    t.same(fast, schema, `${rest.slice(0, 30)}: the same spec`);
    t.same(parseSubmit(rest), schema, `${rest.slice(0, 30)}: parseSubmit agrees`);
  }
});

t.test('what the schema refuses is never passed by hand', async (t) => {
  for (const rest of lines) {
    if (typeof bySchema(rest) === 'string') {
      t.equal(plainSpec(plainSubmit(rest)), undefined, `${rest.slice(0, 30)}: to the schema`);
    }
  }
  t.throws(() => parseSubmit('exec ""'), /exec needs a program/);
  t.throws(() => parseSubmit(`${'a'.repeat(65)} x`), /a job type is a name/);
});

t.test('the common lines take the hand-checked path', async (t) => {
  t.same(plainSpec(plainSubmit('echo x')), {
    type: 'echo',
    args: ['x'],
    priority: 0,
    maxAttempts: 3,
  });
  t.ok(plainSpec(plainSubmit('exec true')));
  t.ok(plainSpec(plainSubmit('my.type a')));
  t.equal(plainSpec(plainSubmit('sleep 10')), undefined, 'sleep is the schema’s to judge');
});
