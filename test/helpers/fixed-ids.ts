/**
 * Loaded with `node --import` into a walsync under fault injection: random
 * bytes (generation ids) come from a counter, so every run of the same
 * operation names the same files and strace's `-P` set and per-thread
 * ordinals from a traced run still hold in the injected one. Each step of a
 * case passes its own FIXED_ID_BASE, so two steps never share an id.
 */
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';

let counter = Number(process.env.FIXED_ID_BASE ?? 0) * 1000;
crypto.randomBytes = ((size: number) => {
  const bytes = Buffer.alloc(size, 0x5a);
  bytes.writeUInt32BE(++counter, Math.max(0, size - 4));
  return bytes;
}) as typeof crypto.randomBytes;
syncBuiltinESMExports();
