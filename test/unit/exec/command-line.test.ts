/** The app command of `run --exec`, split into argv as a POSIX shell splits words, without running a shell. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExecCommand } from '../../../src/exec/command-line.js';
import { WalsyncError } from '../../../src/errors.js';

describe('exec command line', () => {
  it('splits words with quotes and backslashes, leaving variables as written', () => {
    assert.deepEqual(parseExecCommand(`node server.js --name "my app" 'a b' c\\ d $PORT`, '--exec'), ['node', 'server.js', '--name', 'my app', 'a b', 'c d', '$PORT']);
  });

  it('refuses shell syntax and an empty command, naming where the command came from', () => {
    for (const [text, syntax] of [['a | b', '|'], ['a && b', '&&'], ['a > log', '>'], ['ls *.db', '*.db']]) {
      assert.throws(() => parseExecCommand(text!, 'walsync.yml: exec'), (error: unknown) => {
        assert.ok(error instanceof WalsyncError);
        assert.equal(error.code, 'USAGE');
        assert.equal(error.message, `walsync.yml: exec: ${JSON.stringify(syntax)} is shell syntax, which is not run through a shell; use sh -c '…' for that`);
        return true;
      });
    }
    assert.throws(() => parseExecCommand('   ', '--exec'), /^WalsyncError: --exec: no command to run$/);
  });
});
