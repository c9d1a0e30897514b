/**
 * The least a process that backs up a WAL must do, as a reference for (g):
 * every second, read the bytes the WAL gained, write them at the same
 * offsets of a copy and fsync it. No checksums, no compression, no replica,
 * no checkpoint, no lock. Arguments: walPath copyPath. Runs until killed.
 */
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const [walPath, copyPath] = process.argv.slice(2) as [string, string];
const chunk = new Uint8Array(4 * 1024 * 1024);
const copy = await fs.open(copyPath, 'w');
let copied = 0;
process.stdout.write('ready\n');
for (;;) {
  const wal = await fs.open(walPath, 'r');
  const { size } = await wal.stat();
  if (size < copied) copied = 0;
  while (copied < size) {
    const { bytesRead } = await wal.read(chunk, 0, Math.min(chunk.byteLength, size - copied), copied);
    if (bytesRead === 0) break;
    await copy.write(chunk, 0, bytesRead, copied);
    copied += bytesRead;
  }
  await wal.close();
  await copy.sync();
  await sleep(1000);
}
