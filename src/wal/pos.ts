/**
 * Positions in a generation's history: `generation/index:offset`, where
 * index is the WAL cycle (8 hex digits) and offset a byte offset in it.
 */

export interface Pos {
  readonly generationId: string;
  readonly index: number;
  readonly offset: number;
}

const GENERATION_ID = /^[0-9a-f]{16}$/;
const POS = /^([0-9a-f]{16})\/([0-9a-f]{8}):(\d+)$/;
export const MAX_INDEX = 0xffffffff;

export function isGenerationId(value: string): boolean {
  return GENERATION_ID.test(value);
}

export function formatIndex(index: number): string {
  return index.toString(16).padStart(8, '0');
}

export function parseIndex(text: string): number | undefined {
  return /^[0-9a-f]{8}$/.test(text) ? Number.parseInt(text, 16) : undefined;
}

export function formatPos(pos: Pos): string {
  return `${pos.generationId}/${formatIndex(pos.index)}:${pos.offset}`;
}

export function parsePos(text: string): Pos | undefined {
  const match = POS.exec(text);
  if (!match) return undefined;
  const offset = Number(match[3]);
  if (!Number.isSafeInteger(offset)) return undefined;
  return { generationId: match[1]!, index: Number.parseInt(match[2]!, 16), offset };
}

/** Orders positions inside one generation; positions of different generations are not comparable. */
export function comparePos(a: Pos, b: Pos): number {
  if (a.generationId !== b.generationId) {
    throw new RangeError(`cannot compare positions of generations ${a.generationId} and ${b.generationId}`);
  }
  return a.index - b.index || a.offset - b.offset;
}
