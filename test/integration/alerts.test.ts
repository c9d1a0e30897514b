/**
 * The alerting rules walsync ships (docs/alerts.yml) pass `promtool check
 * rules` and fire in `promtool test rules` (test/fixtures/alerts.test.yml);
 * a real `walsync run` scrape passes `promtool check metrics` but for the
 * counter names kept from Litestream (docs/running.md, "Health and
 * alerting"), and its series join: one `replica` label, every counter at 0
 * from the start. promtool comes from Debian's prometheus package.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startAppInTempDir } from '../helpers/app.js';
import { ensureDebianTool } from '../helpers/debian-tool.js';
import { freePort, signalAndWait, startRun, waitFor } from '../helpers/daemon.js';

// tsc copies no YAML: the files are read from the source tree.
const rulesFile = fileURLToPath(new URL('../../../docs/alerts.yml', import.meta.url));
const rulesTest = fileURLToPath(new URL('../../../test/fixtures/alerts.test.yml', import.meta.url));

/** Counters named as Litestream names them (`_count` on a counter, no `_total`), which promtool's lint flags. */
const LITESTREAM_COUNTERS = ['walsync_sync_count', 'walsync_sync_error_count', 'walsync_sync_seconds', 'walsync_total_wal_bytes', 'walsync_checkpoint_count', 'walsync_replica_operation_bytes'];

describe('alerts and metrics', () => {
  it('the rules file passes promtool check rules and its unit test fires each alert', () => {
    ensureDebianTool('promtool', 'prometheus');
    execFileSync('promtool', ['check', 'rules', rulesFile], { stdio: 'pipe' });
    const tested = spawnSync('promtool', ['test', 'rules', path.basename(rulesTest)], { cwd: path.dirname(rulesTest), encoding: 'utf8' });
    assert.equal(tested.status, 0, tested.stdout + tested.stderr);
  });

  it('a walsync run scrape: one replica label scheme, every counter present at 0, promtool check metrics clean but for Litestream\'s names', async (t) => {
    ensureDebianTool('promtool', 'prometheus');
    const { dir, dbPath } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const port = await freePort();
    const replica = path.join(dir, 'replica');
    const config = [`addr: 127.0.0.1:${port}`, 'dbs:', `  - path: ${dbPath}`, '    replicas:', '      - name: backup', `        path: ${replica}`, '        sync-interval: 1s', ''].join('\n');
    const run = await startRun(dir, config);
    t.after(() => run.child.kill('SIGKILL'));
    let text = '';
    await waitFor('a scrape with the replica position', async () => {
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return /^walsync_replica_wal_index\{/m.test(text);
    }, 10_000);
    for (const series of [
      `walsync_sync_error_count{db="${dbPath}"} 0`,
      `walsync_checkpoint_count{db="${dbPath}",mode="TRUNCATE"} 0`,
      `walsync_database_replaced_total{db="${dbPath}"} 0`,
      `walsync_job_runs_total{db="${dbPath}",job="verify",replica="backup",outcome="error"} 0`,
      `walsync_replica_info{db="${dbPath}",replica="backup",replica_url="file://${replica}"} 1`,
    ]) {
      assert.ok(text.split('\n').includes(series), `${series} in:\n${text}`);
    }
    const replicaLabels = new Set([...text.matchAll(/[{,]replica="([^"]*)"/g)].map((match) => match[1]));
    assert.deepEqual([...replicaLabels], ['backup'], 'the replica label is its name on every series');

    const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const problems = `${checked.stdout}${checked.stderr}`.split('\n').filter((line) => line.trim() !== '');
    const unexpected = problems.filter((line) => !LITESTREAM_COUNTERS.some((name) => line.startsWith(`${name} `)));
    assert.deepEqual(unexpected, []);
    const stopped = await signalAndWait(run.child, run.done);
    assert.equal(stopped.code, 0, stopped.stderr);
  });
});
