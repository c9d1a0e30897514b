/**
 * The name an object was written under, carried inside it: an LZ4 skippable
 * frame at the start of every snapshot and WAL segment walsync writes, which
 * `lz4 -d` and Litestream's reader skip. Litestream 0.3's objects hold
 * nothing of their generation, so an object of another generation (or index,
 * or offset) renamed into place decodes cleanly and a restore would mix two
 * databases' pages; with the label, the restore names the impostor.
 * Objects without a label (Litestream's, older walsync's) are read as before.
 */
import { WalsyncError } from '../errors.js';
import { snapshotKey, walSegmentKey } from './layout.js';

export interface ObjectLabel {
  readonly generationId: string;
  readonly index: number;
  /** A WAL segment's offset; undefined for a snapshot. */
  readonly offset?: number;
}

const TAG = new TextEncoder().encode('walsync-object/1');
const SNAPSHOT_KIND = 0x73;
const WAL_SEGMENT_KIND = 0x77;
const LABEL_SIZE = TAG.byteLength + 1 + 8 + 4 + 8;

export function formatObjectLabel(label: ObjectLabel): Uint8Array {
  const bytes = new Uint8Array(LABEL_SIZE);
  const view = new DataView(bytes.buffer);
  bytes.set(TAG);
  let at = TAG.byteLength;
  bytes[at++] = label.offset === undefined ? SNAPSHOT_KIND : WAL_SEGMENT_KIND;
  bytes.set(Buffer.from(label.generationId, 'hex'), at);
  at += 8;
  view.setUint32(at, label.index, true);
  view.setBigUint64(at + 4, BigInt(label.offset ?? 0), true);
  return bytes;
}

/** The label in a skippable frame's payload; undefined when the payload is not walsync's. */
export function parseObjectLabel(payload: Uint8Array): ObjectLabel | undefined {
  if (payload.byteLength !== LABEL_SIZE || !TAG.every((byte, i) => payload[i] === byte)) return undefined;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = TAG.byteLength;
  const kind = payload[at++];
  if (kind !== SNAPSHOT_KIND && kind !== WAL_SEGMENT_KIND) return undefined;
  const generationId = Buffer.from(payload.subarray(at, at + 8)).toString('hex');
  const index = view.getUint32(at + 8, true);
  const offset = Number(view.getBigUint64(at + 12, true));
  return kind === SNAPSHOT_KIND ? { generationId, index } : { generationId, index, offset };
}

export function labelKey(label: ObjectLabel): string {
  return label.offset === undefined ? snapshotKey(label.generationId, label.index) : walSegmentKey(label.generationId, label.index, label.offset);
}

/** For decodeLz4Frame: fails an object whose label names another object. */
export function expectLabel(expected: ObjectLabel, name: string): (payload: Uint8Array) => void {
  return (payload) => {
    const found = parseObjectLabel(payload);
    if (found && labelKey(found) !== labelKey(expected)) {
      throw new WalsyncError('REPLICA_CORRUPT', `${name}: holds ${labelKey(found)} (an object renamed into place)`);
    }
  };
}
