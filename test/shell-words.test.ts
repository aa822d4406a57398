import t from 'tap';
import { hasQuoting, splitWords } from '../shared/shell-words.js';

t.test('blanks separate words; runs of blanks count once', async (t) => {
  t.same(splitWords('a b'), ['a', 'b']);
  t.same(splitWords('  a \t  b  '), ['a', 'b']);
  t.same(splitWords(''), []);
  t.same(splitWords('   '), []);
});

t.test('double quotes keep blanks and semicolons inside one word', async (t) => {
  t.same(splitWords('sh -c "echo hi; exit 3"'), ['sh', '-c', 'echo hi; exit 3']);
  t.same(splitWords('"a  b"'), ['a  b']);
});

t.test('single quotes keep everything literally, backslashes included', async (t) => {
  t.same(splitWords(`'a "b" \\n $x'`), ['a "b" \\n $x']);
  t.same(splitWords(`'don'"'"'t'`), ["don't"]);
});

t.test('inside double quotes a backslash escapes only " \\ $ and `', async (t) => {
  t.same(splitWords('"say \\"hi\\""'), ['say "hi"']);
  t.same(splitWords('"a\\\\b"'), ['a\\b']);
  t.same(splitWords('"\\$HOME \\`x\\`"'), ['$HOME `x`']);
  t.same(splitWords('"a\\nb"'), ['a\\nb'], 'other backslashes stay');
});

t.test('outside quotes a backslash makes the next character literal', async (t) => {
  t.same(splitWords('a\\ b c'), ['a b', 'c']);
  t.same(splitWords("don\\'t"), ["don't"]);
  t.same(splitWords('\\\\'), ['\\']);
});

t.test('adjacent parts join into one word; empty quotes are an empty word', async (t) => {
  t.same(splitWords(`a"b c"'d'e`), ['ab cde']);
  t.same(splitWords('x "" y'), ['x', '', 'y']);
  t.same(splitWords("''"), ['']);
});

t.test('nothing is expanded', async (t) => {
  t.same(splitWords('$HOME * ~ `id`'), ['$HOME', '*', '~', '`id`']);
});

t.test('an unterminated quote or a final backslash is an error naming it', async (t) => {
  t.throws(() => splitWords('echo "hi'), { name: 'ShellWordsError' });
  t.throws(() => splitWords('echo "hi'), /unterminated " quote at column 6/);
  t.throws(() => splitWords("it's"), /unterminated ' quote at column 3/);
  t.throws(() => splitWords('a \\'), /lone \\/);
  t.throws(() => splitWords('"a\\"'), /unterminated "/);
});

t.test('hasQuoting tells whether splitting needs the shell rules', async (t) => {
  t.equal(hasQuoting('hello   world'), false);
  t.equal(hasQuoting('"a"'), true);
  t.equal(hasQuoting("it's"), true);
  t.equal(hasQuoting('a\\b'), true);
});
