import t from 'tap';
import { proveDurability, straceWorks } from '../bench/durability-proof.js';
import { ackedIds, checkTrace, okReplies } from '../bench/strace-check.js';

const TK = '01M8NEAA6QJ242VPWJ48WYAAFN';
const wal = (p: string) => p === '/d/node.db-wal';

t.test('the checker sees a promise made before its sync', async (t) => {
  const good = [
    `7 pwrite64(5</d/node.db-wal>, "\\33${TK}\\0", 30, 0) = 30`,
    `7 fdatasync(5</d/node.db-wal>) = 0`,
    `7 write(9<socket:[1]>, "OK ${TK}\\n", 30) = 30`,
  ].join('\n');
  const ok = checkTrace(good, wal, okReplies);
  t.equal(ok.proven, 1);
  t.equal(ok.violationCount, 0);
  const early = [
    `7 pwrite64(5</d/node.db-wal>, "${TK}", 26, 0) = 26`,
    `7 write(9<socket:[1]>, "OK ${TK}\\n", 30) = 30`,
    `7 fdatasync(5</d/node.db-wal> <unfinished ...>`,
    `8 write(1<pipe:[2]>, "log", 3) = 3`,
    `7 <... fdatasync resumed>) = 0`,
  ].join('\n');
  const bad = checkTrace(early, wal, okReplies);
  t.equal(bad.violationCount, 1);
  t.match(bad.violations[0]?.why, /before its WAL write was synced/);
  const never = checkTrace(`7 write(9<socket:[1]>, "OK ${TK}\\n", 30) = 30`, wal, okReplies);
  t.match(never.violations[0]?.why, /before it was written/);
  const other = '01M8NEAA6QJ242VPWJ48WYAAFP';
  const ack = `{\\"type\\":\\"ACK\\",\\"jobs\\":[\\"${TK}\\"],\\"results\\":[\\"${other}\\"]}`;
  t.same(ackedIds(ack), [TK, other], 'an ACK promises its jobs and its results');
});

t.test(
  'every OK and every ACK leaves after the fsync of the WAL holding it (strace)',
  { skip: straceWorks() ? false : 'needs strace (Debian: apt-get install strace)' },
  async (t) => {
    const r = await proveDurability(2000);
    t.comment(
      `node: ${r.node.proven}/${r.node.promised} OK after their fsync (${r.node.syncs} fsyncs); ` +
        `proxy: ${r.proxy.proven}/${r.proxy.promised} ACKs after their fsync (${r.proxy.syncs} fsyncs)`,
    );
    t.equal(r.node.promised, 2000, 'every ticket was seen leaving on the client socket');
    t.same(r.node.violations, [], 'no ticket before its commit reached the disk');
    // each job is acked as forwarded, or (started at its origin) as a result recorded, or both
    t.equal(r.proxy.distinct, 2000, 'every job was seen acknowledged');
    t.equal(r.proxy.proven, r.proxy.promised, 'every ACK after the fsync of its WAL write');
    t.same(r.proxy.violations, [], 'no ACK before its commit reached the disk');
  },
);
