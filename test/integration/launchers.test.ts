/**
 * Every way README starts the daemon, stopped by SIGTERM to that launcher's
 * pid alone (what systemd's KillMode=process, `kill $MAINPID` or `docker stop`
 * do): walsync exits (how fast is bench figure (s)), the commits made before the signal are in
 * the replica, and no walsync process is left behind.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startAppInTempDir } from '../helpers/app.js';
import { collect } from '../helpers/cli.js';
import { configFor, restoreEquals, waitFor, processesOf, writeFor } from '../helpers/daemon.js';
import { tempDir } from '../helpers/tmp.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

/**
 * npm, linking this checkout the way README's recipes install it (no download: it is a folder).
 * Without its prepare script: the checkout is built already, and a rebuild would rewrite dist/
 * under the tests running beside this one.
 */
async function npm(args: string[], cwd: string): Promise<void> {
  await run('npm', [...args, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd, timeout: 180_000 });
}

async function waitForLog(child: ChildProcess, pattern: RegExp): Promise<() => string> {
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  await waitFor(`the daemon to log ${pattern}`, () => pattern.test(stderr) || child.exitCode !== null, 20_000);
  assert.match(stderr, pattern);
  return () => stderr;
}

describe('launchers in README', () => {
  it('systemd: ExecStart=<prefix>/bin/walsync run (npm install -g), SIGTERM to its pid', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const prefix = path.join(tempDir(t), 'prefix');
    await npm(['install', '-g', '--prefix', prefix, repoRoot], dir);
    const file = path.join(dir, 'walsync.yml');
    await fs.writeFile(file, configFor(dbPath, path.join(dir, 'replica')));
    // As systemd starts it: the linked bin itself, through its #! line.
    const daemon = spawn(path.join(prefix, 'bin', 'walsync'), ['run', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = collect(daemon, 60_000);
    await waitForLog(daemon, /runner started/);
    await writeFor(app, 1500);
    await app.insert(50, { perTx: 5 });
    daemon.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await processesOf(dir), []);
    await restoreEquals(dir, path.join(dir, 'replica'), dbPath);
  });

  describe('npx walsync in a project that depends on walsync (npm exec does not pass SIGTERM on)', () => {
    let project = '';
    before(async () => {
      project = await fs.mkdtemp(path.join(os.tmpdir(), 'walsync-project-'));
      await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
      await npm(['install', repoRoot], project);
    });
    after(() => fs.rm(project, { recursive: true, force: true }));

    for (const [name, args] of [
      ['run', (dir: string) => ['run', '--config', path.join(dir, 'walsync.yml')]],
      ['sync --interval', (dir: string, dbPath: string) => ['sync', dbPath, path.join(dir, 'replica'), '--interval', '1s']],
    ] as const) {
      it(`npx walsync ${name}: SIGTERM to npm alone, and walsync still stops with a final sync`, async (t) => {
        const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
        await fs.writeFile(path.join(dir, 'walsync.yml'), configFor(dbPath, path.join(dir, 'replica')));
        const launcher = spawn('npx', ['--no-install', 'walsync', ...args(dir, dbPath)], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
        const done = collect(launcher, 60_000);
        const stderr = await waitForLog(launcher, name === 'run' ? /runner started/ : /new generation/);
        await writeFor(app, 1500);
        await app.insert(50, { perTx: 5 });
        launcher.kill('SIGTERM');
        await waitFor('every walsync process to end', async () => (await processesOf(dir)).length === 0, 10_000);
        await done;
        assert.match(stderr(), /INFO stopping after a final sync .*reason="the npm exec that started walsync exited"/);
        await restoreEquals(dir, path.join(dir, 'replica'), dbPath);
      });
    }
  });
});
