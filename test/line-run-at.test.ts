import t from 'tap';
import { validateSpec } from '../node/commands.js';
import { WireError } from '../shared/errors.js';
import { MAX_DELAY_MS } from '../shared/job.js';
import { LineClient, startCluster } from './helpers/cluster.js';

/** The BAD_REQUEST message `spec` gets, or null when it is accepted. */
function refusal(spec: Record<string, unknown>): string | null {
  try {
    validateSpec({ type: 'echo', args: ['x'], ...spec });
    return null;
  } catch (e) {
    if (e instanceof WireError && e.code === 'BAD_REQUEST') return e.message;
    throw e;
  }
}

const DAY = 24 * 60 * 60 * 1000;

t.test('runAt is ISO-8601 with a zone, or epoch milliseconds', async (t) => {
  const soon = new Date(Date.now() + DAY);
  t.equal(refusal({ runAt: soon.toISOString() }), null, 'ISO with Z');
  t.equal(refusal({ runAt: soon.toISOString().replace('Z', '+02:00') }), null, 'an offset');
  t.equal(refusal({ runAt: soon.toISOString().slice(0, 16) + 'Z' }), null, 'no seconds');
  t.equal(refusal({ runAt: soon.toISOString().slice(0, 10) }), null, 'a date: midnight UTC');
  t.equal(refusal({ runAt: soon.getTime() }), null, 'epoch ms');
  t.equal(refusal({ runAt: '2001-01-01T00:00:00Z' }), null, 'the past runs at once');
  t.equal(validateSpec({ type: 'echo', runAt: '2001-01-01T01:00:00+01:00' }).runAt, 978307200000);
  for (const bad of [
    'Dec 25 2026',
    'tomorrow',
    `${soon.getUTCFullYear()}-13-01T00:00:00Z`,
    `${soon.getUTCFullYear()}-02-30`,
    soon.toISOString().slice(0, 19), // a time without a zone: whose clock?
    String(soon.getTime()),
    '',
  ]) {
    t.match(refusal({ runAt: bad }), /^runAt: runAt is an ISO-8601 time/, JSON.stringify(bad));
  }
  t.match(refusal({ runAt: 1.5 }), /^runAt: /, 'a fraction of a millisecond');
});

t.test('runAt and delayMs reach at most a year ahead', async (t) => {
  const far = /at most a year ahead/;
  t.match(refusal({ runAt: '2099-01-01T00:00:00Z' }), far, 'year 2099');
  t.match(refusal({ runAt: 4102444800000 }), far, 'epoch ms in 2100');
  t.match(refusal({ runAt: Date.now() + MAX_DELAY_MS + DAY }), far, 'just past the bound');
  t.equal(refusal({ runAt: Date.now() + MAX_DELAY_MS - DAY }), null, 'just within it');
  t.match(refusal({ delayMs: MAX_DELAY_MS + 1 }), /^delayMs: .*at most a year/);
  t.equal(refusal({ delayMs: MAX_DELAY_MS }), null);
});

t.test('SUBMIT says why a runAt is refused', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  t.match(
    await c.ask('SUBMIT {"type":"echo","runAt":"2099-01-01T00:00:00Z"}'),
    /^ERR BAD_REQUEST runAt: .*at most a year ahead/,
  );
  t.match(
    await c.ask('SUBMIT {"type":"echo","runAt":"Dec 25 2026"}'),
    /^ERR BAD_REQUEST runAt: runAt is an ISO-8601 time/,
  );
});
