/**
 * Output into a reader that stopped reading (`walsync wal REPLICA | head
 * -1`): every command that prints ends quietly with exit 0, as `git log |
 * head` does, never with a stack trace. The reader here is `true`, which
 * exits before reading anything, so every write meets a closed pipe.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startAppInTempDir } from '../helpers/app.js';
import { cliPath, runCli } from '../helpers/cli.js';

const run = promisify(execFile);

/** `walsync ARGS | true` in bash: walsync's own exit status and its stderr. */
async function intoClosedPipe(args: string[]): Promise<{ status: number; stderr: string }> {
  const quoted = [process.execPath, cliPath, ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ');
  const { stdout, stderr } = await run('bash', ['-c', `${quoted} | true; echo "status=\${PIPESTATUS[0]}"`]);
  return { status: Number(/status=(\d+)/.exec(stdout)?.[1]), stderr };
}

describe('a closed pipe on stdout', () => {
  it('every printing command exits 0 without a word on stderr', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(200, { size: 200, perTx: 5 });
    const replica = path.join(dir, 'replica');
    const synced = await runCli(['sync', '--once', dbPath, replica]);
    assert.equal(synced.code, 0, synced.stderr);
    const config = path.join(dir, 'walsync.yml');
    await fs.writeFile(config, ['dbs:', `  - path: ${dbPath}`, '    replicas:', `      - path: ${replica}`, ''].join('\n'));
    const commands = [
      ['generations', replica],
      ['snapshots', replica],
      ['wal', replica],
      ['status', '--config', config],
      ['verify', dbPath],
      ['sync', '--once', '--json', dbPath, replica],
    ];
    for (const args of commands) {
      const { status, stderr } = await intoClosedPipe(args);
      assert.equal(status, 0, `${args[0]}: ${stderr}`);
      assert.doesNotMatch(stderr, /EPIPE|\n\s+at |Error/, args[0]);
    }
  });
});
