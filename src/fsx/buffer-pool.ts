/**
 * Large scratch buffers (the 4 MiB chunks that WAL copies, LZ4 blocks and
 * uploads go through), kept for reuse between syncs. A busy `walsync run`
 * moves every WAL byte through several of them each second. Allocating
 * fresh ones made V8 run major collections for the external memory and the
 * kernel fault in and zero new pages: about a sixth of the daemon's CPU
 * under the bench's write load. An idle process lets them all go.
 *
 * A borrowed buffer holds whatever its last user left in it; users read only
 * what they wrote. It must not be handed back while any I/O still uses it.
 */

/** Idle buffers kept at most, over all sizes: one busy database's sync and upload use about this much. */
export const MAX_IDLE_BYTES = 48 * 1024 * 1024;
/** Without a borrow for this long, idle buffers are released. */
const RELEASE_AFTER_MS = 10_000;

const idleBySize = new Map<number, Uint8Array[]>();
let idleBytes = 0;
let releaseTimer: NodeJS.Timeout | undefined;

export function borrowBuffer(size: number): Uint8Array {
  scheduleRelease();
  const idle = idleBySize.get(size)?.pop();
  if (!idle) return new Uint8Array(size);
  idleBytes -= size;
  return idle;
}

/** Hands back a buffer that `borrowBuffer` gave out. */
export function returnBuffer(buffer: Uint8Array): void {
  const size = buffer.byteLength;
  if (idleBytes + size > MAX_IDLE_BYTES) return;
  let idle = idleBySize.get(size);
  if (!idle) idleBySize.set(size, (idle = []));
  idle.push(buffer);
  idleBytes += size;
}

/** Runs `use` with borrowed buffers of the given sizes and hands them back once it settled. */
export async function withBuffers<T>(sizes: readonly number[], use: (buffers: Uint8Array[]) => Promise<T>): Promise<T> {
  const buffers = sizes.map(borrowBuffer);
  try {
    return await use(buffers);
  } finally {
    for (const buffer of buffers) returnBuffer(buffer);
  }
}

/** Lets every idle buffer go: for a caller whose next stage borrows other sizes than the last. */
export function releaseIdleBuffers(): void {
  idleBySize.clear();
  idleBytes = 0;
}

function scheduleRelease(): void {
  if (releaseTimer) {
    releaseTimer.refresh();
    return;
  }
  releaseTimer = setTimeout(() => {
    releaseTimer = undefined;
    releaseIdleBuffers();
  }, RELEASE_AFTER_MS);
  // Idle buffers are no reason for a process to stay alive.
  releaseTimer.unref();
}
