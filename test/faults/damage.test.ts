/**
 * Damage at rest, in file and S3 replicas: a flipped byte, a truncation, a
 * deleted object, and an object of another generation renamed into place,
 * each in the snapshot and in a WAL segment. `restore` fails naming the
 * object and leaves nothing at OUT; `verify --replica` exits 3, except for
 * a deleted snapshot, which its sync writes anew. Damage a newer snapshot
 * makes irrelevant is restored past.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { startApp, startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import { configFor, restoreEquals, signalAndWait, startRun, waitFor } from '../helpers/daemon.js';
import { fileBackend, s3Backend } from '../helpers/replica-backends.js';
import type { BackendKind, ReplicaBackend } from '../helpers/replica-backends.js';
import { NO_CHECKPOINT_FLAGS } from '../helpers/sync-once.js';

type Damage = 'flipped byte' | 'truncated' | 'deleted' | 'from another generation';
type Target = 'snapshot' | 'WAL segment';

const DAMAGES: readonly Damage[] = ['flipped byte', 'truncated', 'deleted', 'from another generation'];
const TARGETS: readonly Target[] = ['snapshot', 'WAL segment'];

async function sync(dbPath: string, backend: ReplicaBackend, url = backend.url, flags: readonly string[] = NO_CHECKPOINT_FLAGS): Promise<void> {
  const result = await runCli(['sync', '--once', ...flags, dbPath, url], { env: backend.env });
  assert.equal(result.code, 0, result.stderr);
}

/** The replica's object keys, from the CLI's own listings of the one generation. */
async function objectKeys(backend: ReplicaBackend): Promise<{ generation: string; snapshot: string; segments: string[] }> {
  const [generation] = await backend.client.listGenerations();
  const snapshots = await backend.client.listSnapshots(generation!);
  const segments = await backend.client.listWalSegments(generation!);
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  return {
    generation: generation!,
    snapshot: `generations/${generation}/snapshots/${hex(snapshots[0]!.index)}.snapshot.lz4`,
    segments: segments.map((s) => `generations/${generation}/wal/${hex(s.index)}_${hex(s.offset)}.wal.lz4`),
  };
}

/** A second database's replica in the same store, for objects of another generation. */
async function foreignObjects(t: TestContext, backend: ReplicaBackend, dir: string): Promise<{ snapshot: Uint8Array; segment: Uint8Array }> {
  const dbPath = path.join(dir, 'other.db');
  const other = await startApp({ dbPath, autocheckpoint: 0 });
  t.after(() => other.close());
  const otherDir = path.join(dir, 'other-replica');
  await other.insert(80, { size: 300, perTx: 4 });
  await sync(dbPath, backend, otherDir);
  await other.insert(80, { size: 300, perTx: 4 });
  await sync(dbPath, backend, otherDir);
  const generation = fs.readdirSync(path.join(otherDir, 'generations'))[0]!;
  const wal = fs.readdirSync(path.join(otherDir, 'generations', generation, 'wal')).sort();
  return {
    snapshot: fs.readFileSync(path.join(otherDir, 'generations', generation, 'snapshots', '00000000.snapshot.lz4')),
    segment: fs.readFileSync(path.join(otherDir, 'generations', generation, 'wal', wal[1]!)),
  };
}

async function damage(t: TestContext, kind: BackendKind, target: Target, what: Damage): Promise<void> {
  const backend = await kind.open(t);
  const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
  // One snapshot and three WAL segments in one index; the damaged segment is the middle one.
  await app.insert(80, { size: 300, perTx: 4 });
  await sync(dbPath, backend);
  for (let i = 0; i < 2; i++) {
    await app.insert(80, { size: 300, perTx: 4 });
    await sync(dbPath, backend);
  }
  const keys = await objectKeys(backend);
  assert.ok(keys.segments.length >= 3, keys.segments.join(', '));
  const key = target === 'snapshot' ? keys.snapshot : keys.segments[1]!;
  const original = await backend.getRaw(key);
  if (what === 'flipped byte') {
    const flipped = Uint8Array.from(original);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    await backend.putRaw(key, flipped);
  } else if (what === 'truncated') {
    await backend.putRaw(key, original.subarray(0, Math.floor(original.length * 0.7)));
  } else if (what === 'deleted') {
    await backend.deleteRaw(key);
  } else {
    const foreign = await foreignObjects(t, backend, dir);
    await backend.putRaw(key, target === 'snapshot' ? foreign.snapshot : foreign.segment);
  }

  const out = path.join(dir, 'out.db');
  const restored = await runCli(['restore', '-o', out, backend.url], { env: backend.env });
  assert.equal(restored.code, 1, `restore of a replica with its ${target} ${what}: ${restored.stderr}`);
  const lines = errorLines(restored.stderr);
  assert.equal(lines.length, 1, restored.stderr);
  const named = what === 'deleted' && target === 'snapshot' ? `generations/${keys.generation}/` : key;
  assert.ok(lines[0]!.includes(named), `the error does not name ${named}: ${lines[0]}`);
  assert.deepEqual(fs.readdirSync(dir).filter((name) => name.startsWith('out.db')), [], 'files at OUT');
  const verified = await runCli(['verify', dbPath, '--replica', backend.url], { env: backend.env });
  if (what === 'deleted' && target === 'snapshot') {
    // verify syncs first, and a sync gives a generation without a snapshot a new one: the replica is whole again.
    assert.equal(verified.code, 0, `verify --replica: ${verified.stdout}${verified.stderr}`);
    assert.match(verified.stderr, /INFO snapshot /);
    await restoreEquals(dir, backend.url, dbPath, { env: backend.env });
    return;
  }
  assert.equal(verified.code, 3, `verify --replica: ${verified.stdout}${verified.stderr}`);
  assert.ok(errorLines(verified.stderr).join('\n').includes(named), verified.stderr);
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

for (const kind of [fileBackend, s3Backend((stop) => cleanups.push(stop))]) {
  describe(`damage at rest in a ${kind.name} replica`, () => {
    for (const target of TARGETS) {
      for (const what of DAMAGES) {
        it(`the ${target} ${what}: restore fails naming it, nothing at OUT, verify --replica finds it`, async (t) => {
          await damage(t, kind, target, what);
        });
      }
    }

    it('damage to a snapshot a newer snapshot replaces does not stop a restore', async (t) => {
      const backend = await kind.open(t);
      const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
      await app.insert(80, { size: 300, perTx: 4 });
      await sync(dbPath, backend);
      const old = await objectKeys(backend);
      for (let i = 0; i < 2; i++) {
        await app.insert(80, { size: 300, perTx: 4 });
        await sync(dbPath, backend, backend.url, ['--checkpoint-min-pages', '1']);
      }
      const snapshotted = await runCli(['snapshot', dbPath, backend.url], { env: backend.env });
      assert.equal(snapshotted.code, 0, snapshotted.stderr);
      const snapshots = await backend.client.listSnapshots(old.generation);
      assert.ok(snapshots.length >= 2 && snapshots.at(-1)!.index > snapshots[0]!.index, JSON.stringify(snapshots));
      const bytes = Uint8Array.from(await backend.getRaw(old.snapshot));
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      await backend.putRaw(old.snapshot, bytes);
      await restoreEquals(dir, backend.url, dbPath, { env: backend.env });
    });
  });
}

describe('damage at rest under walsync run', () => {
  it('a scheduled verify that cannot restore a damaged segment fails its job naming the object', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    for (let i = 0; i < 3; i++) {
      await app.insert(80, { size: 300, perTx: 4 });
      const synced = await runCli(['sync', '--once', ...NO_CHECKPOINT_FLAGS, dbPath, replica]);
      assert.equal(synced.code, 0, synced.stderr);
    }
    const generation = fs.readdirSync(path.join(replica, 'generations'))[0]!;
    const walDir = path.join(replica, 'generations', generation, 'wal');
    const middle = fs.readdirSync(walDir).sort()[1]!;
    const bytes = fs.readFileSync(path.join(walDir, middle));
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    fs.writeFileSync(path.join(walDir, middle), bytes);
    const run = await startRun(dir, configFor(dbPath, replica, '        verify-interval: 1s'));
    t.after(() => run.child.kill('SIGKILL'));
    await waitFor('the verify job to fail', () => /ERROR job failed .*job=verify/.test(run.stderr()), 30_000);
    const failed = run.stderr().split('\n').find((line) => /ERROR job failed .*job=verify/.test(line))!;
    assert.match(failed, new RegExp(`code=VERIFY_MISMATCH error=".*does not restore: .*${middle.replace('.', '\\.')}: LZ4 content checksum mismatch`));
    await signalAndWait(run.child, run.done);
  });
});
