import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Prefetcher } from '../../../src/restore/prefetch.js';

interface Item {
  readonly name: string;
  readonly size: number;
  readonly fails?: boolean;
}

/** Items whose bodies take a few ms each, counting downloads in flight and bytes started but not yet handed out. */
function tracked(items: Item[], parallelism: number, budgetBytes: number) {
  const stats = { inFlight: 0, maxInFlight: 0, opened: [] as string[] };
  const prefetcher = new Prefetcher(items, {
    sizeOf: (item) => item.size,
    parallelism,
    budgetBytes,
    async *open(item) {
      stats.opened.push(item.name);
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        await sleep(2);
        if (item.fails) throw new Error(`${item.name}: gone`);
        const chunk = new Uint8Array(item.size).fill(item.name.charCodeAt(0));
        // The source reuses its buffer: what the prefetcher holds must be a copy.
        yield chunk;
        chunk.fill(0);
      } finally {
        stats.inFlight--;
      }
    },
  });
  return { prefetcher, stats };
}

async function bytesOf(body: AsyncIterable<Uint8Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const chunk of body) out.push(...new Set(chunk));
  return out;
}

describe('prefetcher', () => {
  it('hands bodies out in order with at most `parallelism` downloads in flight', async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ name: String.fromCharCode(65 + i), size: 10 }));
    const { prefetcher, stats } = tracked(items, 4, 1000);
    prefetcher.start();
    for (const item of items) {
      await sleep(1);
      assert.deepEqual(await bytesOf(prefetcher.next()), [item.name.charCodeAt(0)]);
    }
    assert.ok(stats.maxInFlight <= 4 && stats.maxInFlight >= 2, `in flight at most 4, and more than one: ${stats.maxInFlight}`);
  });

  it('holds no more than its budget, and streams an object larger than the budget at its turn', async () => {
    const items = [
      { name: 'a', size: 40 },
      { name: 'b', size: 40 },
      { name: 'c', size: 40 },
      { name: 'B', size: 500 },
      { name: 'd', size: 40 },
    ];
    const { prefetcher, stats } = tracked(items, 8, 100);
    prefetcher.start();
    await sleep(20);
    assert.deepEqual(stats.opened, ['a', 'b'], 'a third 40 would pass the 100 budget');
    for (const item of items) assert.deepEqual(await bytesOf(prefetcher.next()), [item.name.charCodeAt(0)]);
    assert.deepEqual(stats.opened, ['a', 'b', 'c', 'B', 'd']);
  });

  it('reports a failed download when its turn comes, not before', async () => {
    const items = [{ name: 'a', size: 1 }, { name: 'b', size: 1, fails: true }, { name: 'c', size: 1 }];
    const { prefetcher } = tracked(items, 3, 100);
    prefetcher.start();
    await sleep(20);
    assert.deepEqual(await bytesOf(prefetcher.next()), ['a'.charCodeAt(0)]);
    await assert.rejects(bytesOf(prefetcher.next()), /b: gone/);
    prefetcher.close();
  });
});
