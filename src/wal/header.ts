/**
 * The 32-byte WAL header: eight big-endian u32s, the last two a checksum of
 * the first 24 bytes in the byte order the magic selects.
 */
import { walChecksum } from './checksum.js';
import type { Checksum, WalHeader } from './format.js';
import {
  WAL_FORMAT_VERSION,
  WAL_HEADER_SIZE,
  WAL_MAGIC_BE,
  WAL_MAGIC_LE,
  isValidPageSize,
  sameChecksum,
} from './format.js';

export type WalHeaderResult = { ok: true; header: WalHeader } | { ok: false; reason: string };

export function parseWalHeader(bytes: Uint8Array): WalHeaderResult {
  if (bytes.byteLength < WAL_HEADER_SIZE) {
    return { ok: false, reason: `WAL header is ${bytes.byteLength} bytes, expected ${WAL_HEADER_SIZE}` };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, WAL_HEADER_SIZE);
  const magic = view.getUint32(0);
  if (magic !== WAL_MAGIC_LE && magic !== WAL_MAGIC_BE) {
    return { ok: false, reason: `bad WAL magic 0x${magic.toString(16).padStart(8, '0')}` };
  }
  const formatVersion = view.getUint32(4);
  if (formatVersion !== WAL_FORMAT_VERSION) {
    return { ok: false, reason: `unsupported WAL format version ${formatVersion}` };
  }
  const pageSize = view.getUint32(8);
  if (!isValidPageSize(pageSize)) {
    return { ok: false, reason: `bad WAL page size ${pageSize}` };
  }
  const checksum: Checksum = [view.getUint32(24), view.getUint32(28)];
  const expected = walChecksum(bytes.subarray(0, 24), magic === WAL_MAGIC_BE);
  if (!sameChecksum(checksum, expected)) {
    return { ok: false, reason: 'WAL header checksum mismatch' };
  }
  return {
    ok: true,
    header: {
      magic,
      formatVersion,
      pageSize,
      checkpointSeq: view.getUint32(12),
      salt1: view.getUint32(16),
      salt2: view.getUint32(20),
      checksum,
    },
  };
}

/** Encodes a header, computing its checksum; `header.checksum` is ignored. */
export function formatWalHeader(header: Omit<WalHeader, 'checksum'>): Uint8Array {
  const bytes = new Uint8Array(WAL_HEADER_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, header.magic);
  view.setUint32(4, header.formatVersion);
  view.setUint32(8, header.pageSize);
  view.setUint32(12, header.checkpointSeq);
  view.setUint32(16, header.salt1);
  view.setUint32(20, header.salt2);
  const [c1, c2] = walChecksum(bytes.subarray(0, 24), header.magic === WAL_MAGIC_BE);
  view.setUint32(24, c1);
  view.setUint32(28, c2);
  return bytes;
}

export function sameWalHeader(a: WalHeader, b: WalHeader): boolean {
  return (
    a.magic === b.magic &&
    a.pageSize === b.pageSize &&
    a.checkpointSeq === b.checkpointSeq &&
    a.salt1 === b.salt1 &&
    a.salt2 === b.salt2 &&
    sameChecksum(a.checksum, b.checksum)
  );
}

/**
 * True when `next` is the header SQLite writes when it restarts the WAL
 * described by `previous`: salt-1 + 1 and a new salt-2. Salt-1 lives in the
 * shared WAL index, so every connection increments the same value; the
 * checkpoint sequence does not count here, because each connection keeps
 * its own (a restart by another connection may write the same number).
 */
export function isWalRestartOf(next: WalHeader, previous: WalHeader): boolean {
  return (
    next.magic === previous.magic &&
    next.pageSize === previous.pageSize &&
    next.salt1 === ((previous.salt1 + 1) >>> 0)
  );
}

/** Describes how `actual` differs from `expected`, for a log line. */
export function describeHeaderChange(expected: WalHeader, actual: WalHeader): string {
  if (actual.pageSize !== expected.pageSize) {
    return `page size changed from ${expected.pageSize} to ${actual.pageSize}`;
  }
  return (
    `WAL header changed (checkpoint seq ${expected.checkpointSeq} -> ${actual.checkpointSeq}, ` +
    `salt-1 ${hex(expected.salt1)} -> ${hex(actual.salt1)}, salt-2 ${hex(expected.salt2)} -> ${hex(actual.salt2)})`
  );
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
