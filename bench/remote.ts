/**
 * What keeping a backup off the machine costs, on a 1 GiB database:
 *  (age) its snapshot and restore with age encryption vs without (goal: age
 *        costs at most 25 % of the throughput);
 *  (sftp) its snapshot upload and restore over SFTP to an OpenSSH sshd on
 *        127.0.0.1 vs a file replica on the same disk.
 * Each pair takes turns, each side keeps its best, and every replica starts
 * empty, so no side has another's objects or dirty pages to lean on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { startApp } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { startSshServer } from '../test/helpers/sshd.js';
import type { ReplicaSpec } from '../src/replica/url.js';
import { timed } from './daemons.js';
import type { Figure } from './figure.js';
import { inProcessSnapshot } from './in-process.js';

const MiB = 1024 * 1024;
const TRIALS = 2;

/** A 1 GiB database with its WAL checkpointed in, built once per bench run. */
async function bigDatabase(dir: string): Promise<string> {
  const dbPath = path.join(dir, 'remote.db');
  if (fs.existsSync(dbPath)) return dbPath;
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  try {
    while (fs.statSync(dbPath).size < 1024 * MiB) {
      await app.insert(20_000, { size: 4000, perTx: 500 });
      await app.checkpoint('TRUNCATE');
    }
  } finally {
    await app.close();
  }
  return dbPath;
}

interface Side {
  readonly replica: ReplicaSpec;
  /** Where the replica's objects are on this machine, emptied before each trial. */
  readonly localDir: string;
  readonly restoreArgs: string[];
}

interface Timings {
  snapshotMiBps: number;
  restoreMs: number;
  imageMiB: number;
}

/** Both sides in turns, TRIALS times: the snapshot (in this process) and a restore of it (the CLI, with its process start). */
async function measurePair(dbPath: string, out: string, sides: readonly Side[]): Promise<Timings[]> {
  const best = sides.map(() => ({ snapshotMiBps: 0, restoreMs: Infinity, imageMiB: 0 }));
  for (let trial = 0; trial < TRIALS; trial++) {
    for (const [i, side] of sides.entries()) {
      fs.rmSync(side.localDir, { recursive: true, force: true });
      timed('sync', []);
      const { ms, imageSize } = await inProcessSnapshot(dbPath, side.replica);
      best[i]!.snapshotMiBps = Math.max(best[i]!.snapshotMiBps, imageSize / MiB / (ms / 1000));
      best[i]!.imageMiB = imageSize / MiB;
      timed('sync', []);
      best[i]!.restoreMs = Math.min(best[i]!.restoreMs, timed(process.execPath, [cliPath, 'restore', '-o', out, ...side.restoreArgs]).ms);
      fs.rmSync(out);
    }
  }
  for (const side of sides) fs.rmSync(side.localDir, { recursive: true, force: true });
  return best;
}

interface Comparison {
  readonly name: string;
  readonly unit: string;
  /** The least share of the base's throughput `other` may have. */
  readonly goal: number;
  readonly labels: readonly [base: string, other: string];
  readonly where: string;
}

/** Snapshot and restore throughput of `other` as a share of `base`'s. */
function pairFigures(comparison: Comparison, base: Timings, other: Timings): Figure[] {
  const [baseLabel, otherLabel] = comparison.labels;
  const snapshotRatio = other.snapshotMiBps / base.snapshotMiBps;
  const restoreRatio = base.restoreMs / other.restoreMs;
  return [
    {
      name: `snapshot throughput of the 1 GiB database ${comparison.name}`,
      value: snapshotRatio,
      unit: comparison.unit,
      goal: `>= ${comparison.goal}`,
      pass: snapshotRatio >= comparison.goal,
      raw:
        `${otherLabel} ${other.snapshotMiBps.toFixed(0)} MiB/s, ${baseLabel} ${base.snapshotMiBps.toFixed(0)} MiB/s ` +
        `(${base.imageMiB.toFixed(0)} MiB image, in process, best of ${TRIALS}; ${comparison.where})`,
    },
    {
      name: `restore throughput of the 1 GiB database ${comparison.name}`,
      value: restoreRatio,
      unit: comparison.unit,
      goal: `>= ${comparison.goal}`,
      pass: restoreRatio >= comparison.goal,
      raw: `${otherLabel} ${other.restoreMs.toFixed(0)} ms, ${baseLabel} ${base.restoreMs.toFixed(0)} ms (the CLI, integrity_check included, best of ${TRIALS})`,
    },
  ];
}

export async function ageFigures(dir: string): Promise<Figure[]> {
  const dbPath = await bigDatabase(dir);
  const identity = await generateX25519Identity();
  const keyFile = path.join(dir, 'bench-age.key');
  fs.writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
  const plain = path.join(dir, 'age-off');
  const encrypted = path.join(dir, 'age-on');
  const age = { recipients: [await identityToRecipient(identity)], identities: [identity] };
  const [off, on] = await measurePair(dbPath, path.join(dir, 'age-restored.db'), [
    { replica: { location: plain }, localDir: plain, restoreArgs: [plain] },
    { replica: { location: encrypted, age }, localDir: encrypted, restoreArgs: ['--age-identity', keyFile, encrypted] },
  ]);
  return pairFigures({ name: 'with age encryption', unit: 'x without age', goal: 0.75, labels: ['plain', 'age'], where: 'to a file replica' }, off!, on!);
}

export async function sftpFigures(dir: string): Promise<Figure[]> {
  const dbPath = await bigDatabase(dir);
  const stops: (() => Promise<void>)[] = [];
  try {
    const server = await startSshServer((stop) => stops.push(stop));
    const url = server.url('bench');
    const file = path.join(dir, 'sftp-file-side');
    const [local, remote] = await measurePair(dbPath, path.join(dir, 'sftp-restored.db'), [
      { replica: { location: file }, localDir: file, restoreArgs: [file] },
      { replica: { location: url }, localDir: path.join(server.home, 'bench'), restoreArgs: [url] },
    ]);
    return pairFigures({ name: 'over SFTP to a local sshd', unit: 'x a file replica', goal: 0.5, labels: ['file', 'sftp'], where: 'OpenSSH with AES-GCM on 127.0.0.1' }, local!, remote!);
  } finally {
    for (const stop of stops) await stop();
  }
}
