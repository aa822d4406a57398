import net from 'node:net';
import { Committer, openDatabase } from '../shared/db.js';

/**
 * The floor of Petrel's own design, for the peers scenario: a Node process that answers each
 * line it reads with `OK` once a row holding the line is committed through Petrel's group
 * commit (`Committer` with `DURABILITY=fsync`: the transaction under `synchronous=NORMAL`, the
 * WAL, given its working size, `fdatasync`'d on the thread pool), and does nothing else. A
 * ticket costs this and Petrel's work on the job: the difference is what Petrel adds.
 *
 * Usage: `node commit-server.js <dir>`; prints the loopback port it listens on.
 */
const dir = process.argv[2];
if (dir === undefined) {
  process.stderr.write('usage: commit-server.js <dir>\n');
  process.exit(2);
}
const db = openDatabase(
  dir,
  'commit-server.db',
  'fsync',
  'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);',
);
const committer = new Committer(db);
const insert = db.prepare('INSERT INTO t (v) VALUES (?)');

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  let buffer = '';
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      committer.write(
        () => insert.run(line),
        (err) => socket.write(err ? 'ERR\n' : 'OK\n'),
      );
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  committer.flushSync();
  committer.stop();
  db.close();
  process.exit(0);
});
