/**
 * Objects downloaded ahead of their turn: a restore of a long WAL chain
 * would otherwise wait one round trip per segment. At most `parallelism`
 * downloads run at once and at most `budgetBytes` of stored bytes are held;
 * bodies are handed out strictly in order. An object too large for what is
 * left of the budget is not held at all: its turn streams it.
 */
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
    yield* chunks;
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
    // Sources may reuse a chunk's buffer for the next one.
    for await (const chunk of this.options.open(item)) chunks.push(Uint8Array.from(chunk));
    return chunks;
  }
}
