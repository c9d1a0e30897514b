/**
 * `npm run test:interop` needs the real Litestream: without LITESTREAM_BIN
 * it says so in one line and exits 2 before any test starts.
 */
import fs from 'node:fs';

const bin = process.env.LITESTREAM_BIN;
if (!bin) {
  process.stderr.write('walsync interop: LITESTREAM_BIN is not set; point it at a Litestream v0.3.13 binary (LITESTREAM_BIN=/path/to/litestream npm run test:interop)\n');
  process.exit(2);
}
try {
  fs.accessSync(bin, fs.constants.X_OK);
} catch {
  process.stderr.write(`walsync interop: LITESTREAM_BIN=${bin} is not an executable file\n`);
  process.exit(2);
}
