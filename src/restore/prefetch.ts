/**
 * Objects downloaded ahead of their turn: a restore of a long WAL chain
 * would otherwise wait one round trip per segment. At most `parallelism`
 * downloads run at once and at most `budgetBytes` of stored bytes are held;
 * bodies are handed out strictly in order. An object too large for what is
 * left of the budget is not held at all: its turn streams it.
 */
import { borrowBuffer, returnBuffer } from '../fsx/buffer-pool.js';
import type { Body } from '../replica/client.js';

export interface PrefetchOptions<T> {
  readonly open: (item: T) => Body;
  /** Stored size, what holding the item's body costs. */
  readonly sizeOf: (item: T) => number;
  readonly parallelism: number;
  readonly budgetBytes: number;
}

interface Held {
  readonly bytes: number;
  readonly chunks: Promise<Uint8Array[]>;
}

export class Prefetcher<T> {
  private readonly held = new Map<number, Held>();
  private heldBytes = 0;
  private inFlight = 0;
  private nextToStart = 0;
  private nextToHand = 0;

  constructor(
    private readonly items: readonly T[],
    private readonly options: PrefetchOptions<T>,
  ) {}

  /** Starts the first downloads; a caller with other work first (a snapshot) calls it before that work. */
  start(): void {
    this.fill();
  }

  /** The body of the next item in order. */
  next(): Body {
    const at = this.nextToHand++;
    const item = this.items[at]!;
    const held = this.held.get(at);
    if (!held) {
      // Never started (too large to hold): skip past it and stream it.
      if (this.nextToStart <= at) this.nextToStart = at + 1;
      return this.streamed(item);
    }
    return this.release(at, held);
  }

  /** Abandons what is held; downloads in flight end on their own and their results are dropped. */
  close(): void {
    this.nextToStart = this.items.length;
    this.held.clear();
  }

  private async *streamed(item: T): Body {
    try {
      yield* this.options.open(item);
    } finally {
      this.fill();
    }
  }

  private async *release(at: number, held: Held): Body {
    let chunks: Uint8Array[];
    try {
      chunks = await held.chunks;
    } finally {
      this.held.delete(at);
      this.heldBytes -= held.bytes;
      this.fill();
    }
    try {
      yield* chunks;
    } finally {
      // The reader asks for the next chunk only once it is done with the last, so when this ends nothing still reads them.
      for (const chunk of chunks) returnBuffer(new Uint8Array(chunk.buffer, 0, chunk.buffer.byteLength));
    }
  }

  private fill(): void {
    const { parallelism, budgetBytes, sizeOf } = this.options;
    while (this.nextToStart < this.items.length && this.inFlight < parallelism) {
      const at = this.nextToStart;
      const bytes = sizeOf(this.items[at]!);
      if (this.heldBytes + bytes > budgetBytes) {
        // The next in order waits for room, unless nothing is held to make room: then its turn streams it.
        if (this.held.size === 0) this.nextToStart++;
        return;
      }
      this.nextToStart++;
      this.heldBytes += bytes;
      this.inFlight++;
      const chunks = this.download(this.items[at]!).finally(() => {
        this.inFlight--;
        this.fill();
      });
      // Awaited when its turn comes; a failure before then must not count as unhandled.
      chunks.catch(() => undefined);
      this.held.set(at, { bytes, chunks });
    }
  }

  private async download(item: T): Promise<Uint8Array[]> {
    const chunks: Uint8Array[] = [];
    // Sources may reuse a chunk's buffer for the next one: each is copied, into pooled buffers (a restore of a long chain would otherwise leave the collector megabytes behind).
    for await (const chunk of this.options.open(item)) {
      const copy = borrowBuffer(2 ** Math.ceil(Math.log2(Math.max(chunk.byteLength, 64 * 1024))));
      copy.set(chunk);
      chunks.push(copy.subarray(0, chunk.byteLength));
    }
    return chunks;
  }
}
