/**
 * (fleet) One `walsync run` over a `dir:` entry (watch: true) holding N
 * small databases, each with a file replica: how long until every database
 * has its first snapshot, then idle CPU over 60 s, resident memory and open
 * descriptors, then the commit-to-replica lag while one commit lands every
 * 10 ms on a random database for 30 s. The lag is read from the replica's
 * files: python3 records each commit's time and where it ends in the WAL,
 * and the commit is in the replica when the segment holding that offset is
 * (the segment file's mtime). `FLEET_SIZES=1000,10000` sets N.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliPath } from '../test/helpers/cli.js';
import { makeTenants } from '../test/helpers/tenants.js';
import { cpuSecondsOf } from './daemons.js';
import type { Figure } from './figure.js';

const IDLE_MS = 60_000;
const WRITE_MS = 30_000;
const IDLE_CHECKPOINT_WAVE_MS = 75_000;

// One commit every 10 ms on a random database; prints "path time_ms wal_end" per commit. The WAL's
// end is read from the WAL index (mxFrame, bytes 16-19 of the -shm, native order): the file's size
// is not it once a checkpoint restarted the WAL, which SQLite overwrites from its start.
const WRITE = `
import random, sqlite3, struct, sys, time
paths = open(sys.argv[1]).read().split('\\n')
seconds = float(sys.argv[2])
conns = {}
end = time.time() + seconds
while time.time() < end:
    p = random.choice(paths)
    c = conns.get(p) or conns.setdefault(p, sqlite3.connect(p, timeout=30))
    c.execute('insert into t (v) values (?)', ('x' * 100,))
    c.commit()
    at = int(time.time() * 1000)
    with open(p + '-wal', 'rb') as wal:
        page_size = struct.unpack('>I', wal.read(12)[8:12])[0]
    with open(p + '-shm', 'rb') as shm:
        max_frame = struct.unpack('=I', shm.read(20)[16:20])[0]
    print(p, at, 32 + max_frame * (24 + page_size), flush=True)
    time.sleep(0.01)
# The connections stay open while walsync ships the last commits, as an app's would.
time.sleep(6)
`;

export async function fleetFigures(dir: string): Promise<Figure[]> {
  const sizes = (process.env.FLEET_SIZES ?? '1000').split(',').map(Number);
  const figures: Figure[] = [];
  for (const size of sizes) figures.push(...(await fleetOf(path.join(dir, `fleet-${size}`), size)));
  return figures;
}

async function fleetOf(dir: string, count: number): Promise<Figure[]> {
  const tenants = path.join(dir, 'tenants');
  const replicas = path.join(dir, 'replicas');
  const dbPaths = makeTenants(tenants, count, 100);
  const config = path.join(dir, 'walsync.yml');
  fs.writeFileSync(config, ['dbs:', `  - dir: ${tenants}`, '    pattern: "*.db"', '    recursive: true', '    watch: true', '    replicas:', '      - name: backup', `        path: ${replicas}`, '        sync-interval: 1s', ''].join('\n'));
  const started = Date.now();
  const walsync = spawn(process.execPath, [cliPath, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let snapshots = 0;
  walsync.stderr!.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    snapshots += text.match(/INFO job done .*job=snapshot /g)?.length ?? 0;
    stderr = (stderr + text).slice(-20_000);
  });
  try {
    while (snapshots < count) {
      if (walsync.exitCode !== null || Date.now() - started > 30 * 60_000) throw new Error(`bench fleet: walsync run did not snapshot all ${count} databases: ${stderr}`);
      await sleep(250);
    }
    const firstSnapshotsMs = Date.now() - started;
    // Each database's first sync is followed, a minute later, by one idle checkpoint (a new WAL index
    // shipped): work its creation left, not idleness, so the wave is let pass before measuring. (A
    // shorter idle interval would restart WALs during the writes, and the lag is read from offsets.)
    await sleep(IDLE_CHECKPOINT_WAVE_MS);
    const cpuBefore = cpuSecondsOf(walsync.pid!);
    await sleep(IDLE_MS);
    const idlePercent = ((cpuSecondsOf(walsync.pid!) - cpuBefore) / (IDLE_MS / 1000)) * 100;
    const { rssMiB, peakMiB } = memoryOf(walsync.pid!);
    const fds = fs.readdirSync(`/proc/${walsync.pid}/fd`).length;
    const lags = await commitLags(tenants, replicas, dbPaths);
    const p50 = quantile(lags, 0.5);
    const p99 = quantile(lags, 0.99);
    const label = `${count} databases`;
    return [
      { name: `fleet, ${label}: time until every database has its first snapshot`, value: firstSnapshotsMs / 1000, unit: 's', goal: 'none (reported)', pass: true, raw: `${(firstSnapshotsMs / count).toFixed(1)} ms per database, max-concurrent-jobs 2` },
      { name: `fleet, ${label}: idle CPU over ${IDLE_MS / 1000} s`, value: idlePercent, unit: '% of one core', goal: '< 2', pass: idlePercent < 2, raw: 'apps idle, after every first snapshot' },
      { name: `fleet, ${label}: resident memory`, value: rssMiB, unit: 'MiB', goal: '< 1024', pass: rssMiB < 1024, raw: `peak ${peakMiB.toFixed(0)} MiB; ${(rssMiB / count * 1024).toFixed(0)} KiB per database; ${fds} open descriptors (${(fds / count).toFixed(1)} per database)` },
      { name: `fleet, ${label}: commit-to-replica lag p99`, value: p99 / 1000, unit: 's', goal: '<= 2', pass: p99 <= 2000, raw: `p50 ${(p50 / 1000).toFixed(2)} s over ${lags.length} commits (one every 10 ms on a random database for ${WRITE_MS / 1000} s), read from the replica's segment files` },
    ];
  } finally {
    walsync.kill('SIGTERM');
    await new Promise((resolve) => walsync.once('exit', resolve));
  }
}

function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** Milliseconds from each commit to the mtime of the replica segment that holds its last byte. */
async function commitLags(tenants: string, replicas: string, dbPaths: readonly string[]): Promise<number[]> {
  // The paths go through a file: 10,000 of them are past what a command line takes.
  const list = path.join(path.dirname(tenants), 'paths.txt');
  fs.writeFileSync(list, dbPaths.join('\n'));
  const writer = spawnSync('python3', ['-c', WRITE, list, String(WRITE_MS / 1000)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (writer.status !== 0) throw new Error(`bench fleet: the writer failed: ${writer.stderr}`);
  await sleep(3000);
  const lags: number[] = [];
  const segmentsOf = new Map<string, { offset: number; mtimeMs: number }[]>();
  for (const line of writer.stdout.trim().split('\n')) {
    const [dbPath, at, walEnd] = line.split(' ');
    let segments = segmentsOf.get(dbPath!);
    if (!segments) segmentsOf.set(dbPath!, (segments = walSegments(path.join(replicas, path.relative(tenants, dbPath!)))));
    // The segment holding the commit's last byte: the last one starting before the commit's end.
    const holding = segments.filter((segment) => segment.offset < Number(walEnd)).at(-1);
    lags.push(holding ? holding.mtimeMs - Number(at) : Number.POSITIVE_INFINITY);
  }
  return lags.sort((a, b) => a - b);
}

/** A replica's WAL segments of its newest index, by offset (the bench's writes are too few to restart a WAL). */
function walSegments(replica: string): { offset: number; mtimeMs: number }[] {
  const generations = path.join(replica, 'generations');
  const segments: { index: number; offset: number; mtimeMs: number }[] = [];
  for (const generation of fs.readdirSync(generations)) {
    const walDir = path.join(generations, generation, 'wal');
    for (const name of fs.existsSync(walDir) ? fs.readdirSync(walDir) : []) {
      const match = /^([0-9a-f]{8})_([0-9a-f]{8})\.wal\.lz4$/.exec(name);
      if (match) segments.push({ index: parseInt(match[1]!, 16), offset: parseInt(match[2]!, 16), mtimeMs: fs.statSync(path.join(walDir, name)).mtimeMs });
    }
  }
  const newest = Math.max(...segments.map((segment) => segment.index));
  return segments.filter((segment) => segment.index === newest).sort((a, b) => a.offset - b.offset);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}
