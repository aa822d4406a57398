import t from 'tap';
import { LineClient, startCluster, until } from './helpers/cluster.js';

t.test('bad input gets a clear error and disturbs nothing', async (t) => {
  const { proxy, nodes } = await startCluster(t.teardown, 2);
  const port = nodes[0]!.clientPort;
  const c = await LineClient.connect(port, t.teardown);
  const bystander = await LineClient.connect(port, t.teardown);

  t.match(await c.ask(''), /^ERR BAD_REQUEST /, 'empty line');
  t.match(await c.ask('   '), /^ERR BAD_REQUEST /, 'blank line');
  t.equal(await c.ask('-1'), 'Please enter a valid number.', 'negative sleep, seed style');
  t.match(await c.ask('abc'), /^ERR UNKNOWN_COMMAND /, 'an unknown word');
  t.match(await c.ask('FROB 1 2'), /^ERR UNKNOWN_COMMAND /, 'an unknown verb');
  t.match(await c.ask('SUBMIT sleep abc'), /^ERR BAD_REQUEST /, 'sleep with a word');
  t.match(await c.ask('SUBMIT sleep -5'), /^ERR BAD_REQUEST /, 'negative sleep');
  t.match(await c.ask('SUBMIT sleep 1e12'), /^ERR BAD_REQUEST /, 'absurd sleep');
  t.match(
    await c.ask('SUBMIT sleep 99999999999'),
    /^ERR BAD_REQUEST .*limited/,
    'sleep over the limit',
  );
  t.match(await c.ask('SUBMIT sleep'), /^ERR BAD_REQUEST /, 'sleep without ms');
  t.match(await c.ask('SUBMIT'), /^ERR BAD_REQUEST /, 'SUBMIT alone');
  t.equal(
    await c.ask('SUBMIT teleport 5'),
    'ERR BAD_REQUEST unknown job type teleport (built in: sleep, echo, exec, and the types of ' +
      'connected workers; to run the program teleport: exec teleport ...)',
    'unknown job type, with the types and how a program runs',
  );
  t.match(await c.ask('SUBMIT {"type":"sleep"'), /^ERR BAD_REQUEST /, 'broken JSON');
  t.match(
    await c.ask('SUBMIT {"type":"sleep","args":["5"],"evil":1}'),
    /^ERR BAD_REQUEST /,
    'unknown field',
  );
  t.match(await c.ask('SUBMIT {"type":"sleep","args":["5"],"maxAttempts":0}'), /^ERR BAD_REQUEST /);
  t.match(await c.ask('SUBMIT exec /bin/sh -c id'), /^ERR FORBIDDEN /, 'exec not allowed');
  t.match(await c.ask('STATUS'), /^ERR BAD_REQUEST /, 'STATUS without ticket');
  t.match(await c.ask('STATUS nope'), /^ERR BAD_REQUEST not a ticket: nope/, 'not a ticket');
  t.match(await c.ask('RESULT 0000000000ZZZZZZZZZZZZZZZZ'), /^ERR NOT_FOUND /, 'unknown ticket');
  t.match(await c.ask('WAIT 0000000000ZZZZZZZZZZZZZZZZ abc'), /^ERR BAD_REQUEST /, 'bad timeout');

  // binary bytes: one line of garbage, answered, and the connection lives on
  c.write(Buffer.from([0x00, 0xff, 0xfe, 0x1b, 0x5b, 0x32, 0x4a, 0x80, 0x0a]));
  t.match(await c.next(), /^ERR UNKNOWN_COMMAND /, 'binary bytes');
  t.equal(await c.ask('PING'), 'OK PONG', 'still usable after binary input');

  // several commands in one write with CRLF endings: replies in order
  c.write('PING\r\nSUBMIT echo one\r\nbogus\r\nSUBMIT echo two\r\n-7\r\nPING\r\n');
  t.equal(await c.next(), 'OK PONG');
  const one = (await c.next())!;
  t.match(one, /^OK [0-9A-Z]{26}$/);
  t.match(await c.next(), /^ERR UNKNOWN_COMMAND /);
  const two = (await c.next())!;
  t.match(two, /^OK [0-9A-Z]{26}$/);
  t.equal(await c.next(), 'Please enter a valid number.');
  t.equal(await c.next(), 'OK PONG');
  t.match(await c.ask(`WAIT ${one.slice(3)}`), /"output":"one"/);
  t.match(await c.ask(`WAIT ${two.slice(3)}`), /"output":"two"/);

  // a client that leaves in the middle of WAIT
  const leaver = await LineClient.connect(port, t.teardown);
  const long = (await leaver.ask('SUBMIT sleep 200')).slice(3);
  leaver.write(`WAIT ${long} 60000\n`);
  leaver.socket.destroy();

  // a 100 KiB line closes only its own connection
  const big = await LineClient.connect(port, t.teardown);
  big.write('SUBMIT echo ' + 'x'.repeat(100 * 1024) + '\n');
  t.match(await big.next(), /^ERR TOO_LARGE /);
  t.equal(await big.next(), null, 'the oversized line closed its connection');

  t.equal(await bystander.ask('PING'), 'OK PONG', 'other connections are undisturbed');
  t.match(await c.ask(`WAIT ${long} 10000`), /"state":"done"/, 'the abandoned WAIT harmed nothing');
  const after = (await bystander.ask('SUBMIT echo still fine')).slice(3);
  t.match(await bystander.ask(`WAIT ${after}`), /"output":"still fine"/);
  t.equal(proxy.scheduler.counters.rejected, 0);
  await until(() => proxy.scheduler.connectedNodes().length === 2);
});

t.test('echo keeps the text as typed and SUBMIT JSON validates every field', async (t) => {
  const { nodes } = await startCluster(t.teardown, 1);
  const c = await LineClient.connect(nodes[0]!.clientPort, t.teardown);
  const tk = (await c.ask('submit ECHO  two  spaces ; $(id) `x`')).slice(3);
  t.match(await c.ask(`wait ${tk}`), /"output":"two {2}spaces ; \$\(id\) `x`"/);
  t.match(
    await c.ask('SUBMIT {"type":"sleep","args":["10"],"timeoutMs":-1}'),
    /^ERR BAD_REQUEST timeoutMs/,
  );
});
