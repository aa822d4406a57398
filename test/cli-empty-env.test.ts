import { Command } from 'commander';
import t from 'tap';
import { common } from '../cli/context.js';

/** The options a subcommand parses from `env` and `args`. */
function parsed(env: Record<string, string>, args: string[] = []) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const cmd = common(new Command('x'))
      .exitOverride()
      .action(() => undefined);
    cmd.parse(args, { from: 'user' });
    return cmd.opts<{ addr: string }>();
  } finally {
    process.env = saved;
  }
}

t.test(
  'an empty PETREL_ADDR means the default node, as an empty variable means unset for the servers',
  (t) => {
    t.equal(parsed({ PETREL_ADDR: '' }).addr, 'localhost:9000', 'the default node');
    t.equal(parsed({ PETREL_ADDR: '  ' }).addr, 'localhost:9000', 'blank too');
    t.equal(parsed({ PETREL_ADDR: 'n1:9001' }).addr, 'n1:9001', 'a set one is used');
    t.throws(
      () => parsed({}, ['--addr', 'n1:port']),
      /expected host:port/,
      'a malformed one is refused',
    );
    t.end();
  },
);
