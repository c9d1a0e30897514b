/**
 * The app command of `run --exec` / `exec:`, split into argv the way a
 * POSIX shell splits words (quotes, backslashes), then run without a shell,
 * as Litestream's -exec does: the app is walsync's own child and gets its
 * signals directly. Shell syntax is refused rather than half understood.
 */
import { parse } from 'shell-quote';
import { WalsyncError } from '../errors.js';

export function parseExecCommand(text: string, source: string): string[] {
  // Variables are left as written: a config's ${VAR} is expanded when it is read, a flag's by the caller's shell.
  const words = parse(text, (name) => `$${name}`);
  const argv: string[] = [];
  for (const word of words) {
    if (typeof word !== 'string') {
      const syntax = 'op' in word ? (word.op === 'glob' ? word.pattern : word.op) : `#${word.comment}`;
      throw new WalsyncError('USAGE', `${source}: ${JSON.stringify(syntax)} is shell syntax, which is not run through a shell; use sh -c '…' for that`);
    }
    argv.push(word);
  }
  if (argv.length === 0) throw new WalsyncError('USAGE', `${source}: no command to run`);
  return argv;
}
