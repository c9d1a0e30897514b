/**
 * A restored database is created as `cp` creates a file, under the caller's
 * umask: 0644 under umask 022, 0600 under 077. So is the standby of
 * `restore --follow`, which its readers must be able to open, and the
 * shadow directory beside it follows the standby's mode.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { cliPath, collect, runCli } from '../helpers/cli.js';
import { waitFor } from '../helpers/daemon.js';
import { dumpTables } from '../helpers/shadow.js';

/** `walsync ARGS` started by a shell under `umask`. */
function underUmask(umask: string, args: string[]) {
  return spawn('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function modeOf(file: string): Promise<number> {
  return (await fs.stat(file)).mode & 0o777;
}

describe('restored file modes', () => {
  it('restore under umask 022 gives 0644, under 077 0600; a standby under 022 is 0644 with a 0755 shadow directory', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(50);
    const replica = path.join(dir, 'replica');
    const synced = await runCli(['sync', '--once', dbPath, replica]);
    assert.equal(synced.code, 0, synced.stderr);
    for (const [umask, mode] of [['022', 0o644], ['077', 0o600]] as const) {
      const out = path.join(dir, `restored-${umask}.db`);
      const result = await collect(underUmask(umask, ['restore', '-o', out, replica]));
      assert.equal(result.code, 0, result.stderr);
      assert.equal((await modeOf(out)).toString(8), mode.toString(8), `umask ${umask}`);
    }

    const standby = path.join(dir, 'standby.db');
    const follower = underUmask('022', ['restore', '--follow', '-o', standby, replica]);
    const followed = collect(follower, 60_000);
    t.after(() => follower.kill('SIGKILL'));
    await waitFor('the standby', async () => (await fs.stat(standby).catch(() => undefined)) !== undefined && (await fs.stat(path.join(dir, '.standby.db-walsync')).catch(() => undefined)) !== undefined, 20_000);
    assert.equal((await modeOf(standby)).toString(8), '644');
    assert.equal((await modeOf(path.join(dir, '.standby.db-walsync'))).toString(8), '755');
    assert.deepEqual(dumpTables(standby), dumpTables(dbPath));
    follower.kill('SIGTERM');
    assert.equal((await followed).code, 0);
  });
});
