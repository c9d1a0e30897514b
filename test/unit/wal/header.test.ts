/**
 * WAL header — https://www.sqlite.org/fileformat2.html#walformat ("WAL File
 * Format", the 32-byte header), on WAL files written by real SQLite.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { WAL_FORMAT_VERSION, WAL_MAGIC_BE, WAL_MAGIC_LE } from '../../../src/wal/format.js';
import { formatWalHeader, isWalRestartOf, parseWalHeader, sameWalHeader } from '../../../src/wal/header.js';
import type { App } from '../../helpers/app.js';
import type { RealWal } from '../../helpers/real-wal.js';
import { makeWal, toBigEndianWal, withFlippedByte } from '../../helpers/real-wal.js';

function header(bytes: Uint8Array) {
  const parsed = parseWalHeader(bytes);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  return parsed.header;
}

describe('§4 WAL header', () => {
  let real: RealWal;
  before(async () => {
    real = await makeWal((app) => app.insert(2));
  });

  it('parses the header of a WAL written by node SQLite: little-endian magic, version, page size, salts', () => {
    const parsed = header(real.wal);
    assert.equal(parsed.magic, WAL_MAGIC_LE);
    assert.equal(parsed.formatVersion, WAL_FORMAT_VERSION);
    assert.equal(parsed.pageSize, 4096);
    assert.equal(parsed.salt1, real.wal.readUInt32BE(32 + 8), 'frame 0 carries the header salt-1');
    assert.equal(parsed.salt2, real.wal.readUInt32BE(32 + 12), 'frame 0 carries the header salt-2');
  });

  it('parses the header of a WAL written by python3 SQLite with another page size', async () => {
    const python = await makeWal((app) => app.insert(2), { kind: 'python', pageSize: 1024 });
    assert.equal(header(python.wal).pageSize, 1024);
  });

  it('accepts the big-endian magic 0x377f0683 with big-endian checksums', () => {
    const bigEndian = toBigEndianWal(real.wal, real.pageSize);
    assert.equal(header(bigEndian).magic, WAL_MAGIC_BE);
    const asLittle = Buffer.from(bigEndian);
    asLittle.writeUInt32BE(WAL_MAGIC_LE, 0);
    assert.deepEqual(parseWalHeader(asLittle), { ok: false, reason: 'WAL header checksum mismatch' });
  });

  it('rejects a short header, a bad magic, version or page size, and a checksum mismatch, saying which', () => {
    assert.deepEqual(parseWalHeader(real.wal.subarray(0, 20)), { ok: false, reason: 'WAL header is 20 bytes, expected 32' });
    assert.deepEqual(parseWalHeader(withFlippedByte(real.wal, 3)), { ok: false, reason: `bad WAL magic 0x377f067d` });
    const version = Buffer.from(real.wal);
    version.writeUInt32BE(3007001, 4);
    assert.deepEqual(parseWalHeader(version), { ok: false, reason: 'unsupported WAL format version 3007001' });
    const pageSize = Buffer.from(real.wal);
    pageSize.writeUInt32BE(3000, 8);
    assert.deepEqual(parseWalHeader(pageSize), { ok: false, reason: 'bad WAL page size 3000' });
    assert.deepEqual(parseWalHeader(withFlippedByte(real.wal, 17)), { ok: false, reason: 'WAL header checksum mismatch' });
  });

  it('formats a header that parses back to the same fields', () => {
    const parsed = header(real.wal);
    const formatted = formatWalHeader(parsed);
    assert.deepEqual(Buffer.from(formatted), real.wal.subarray(0, 32));
    assert.ok(sameWalHeader(header(formatted), parsed));
  });

  it('recognises the header SQLite writes when it restarts the WAL: salt-1 + 1, a new salt-2', async () => {
    let beforeRestart: Buffer | undefined;
    const restarted = await makeWal(async (app) => {
      await app.insert(3);
      beforeRestart = Buffer.from(await readWal(app));
      await app.checkpoint('RESTART');
      await app.insert(1);
    });
    const previous = header(beforeRestart!);
    const next = header(restarted.wal);
    assert.equal(next.salt1, (previous.salt1 + 1) >>> 0);
    assert.notEqual(next.salt2, previous.salt2);
    assert.ok(isWalRestartOf(next, previous));
    assert.ok(!isWalRestartOf(previous, next));
    assert.ok(!isWalRestartOf(previous, previous));
  });
});

/** The app's WAL as it is right now, found through the app's own connection. */
async function readWal(app: App): Promise<Buffer> {
  const [row] = await app.query<{ file: string }>("SELECT file FROM pragma_database_list WHERE name = 'main'");
  return fs.readFile(`${row!.file}-wal`);
}
