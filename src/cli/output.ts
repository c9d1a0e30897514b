/** How command results look on stdout: one line of text, or one JSON object with --json. */
import type { SyncShadowResult } from '../shadow/sync-shadow.js';
import type { ShadowVerification } from '../verify.js';
import { formatIndex } from '../wal/pos.js';

export function syncSummaryJson(result: SyncShadowResult): Record<string, unknown> {
  return {
    db: result.dbPath,
    generation: result.generationId,
    index: result.index,
    offset: result.offset,
    frames: result.frameCount,
    transactions: result.transactionCount,
    bytes: result.byteCount,
    newGeneration: result.newGenerationReason !== undefined,
    reason: result.newGenerationReason ?? null,
    checkpoint: result.checkpoint ?? null,
    cutBackBytes: result.cutBackByteCount,
  };
}

export function syncSummaryText(result: SyncShadowResult): string {
  let line =
    `synced ${result.dbPath} generation=${result.generationId} index=${formatIndex(result.index)} ` +
    `offset=${result.offset} frames=${result.frameCount} transactions=${result.transactionCount} bytes=${result.byteCount}`;
  line += result.newGenerationReason ? ` new-generation=yes reason=${JSON.stringify(result.newGenerationReason)}` : ' new-generation=no';
  if (result.checkpoint) line += ` checkpoint=${result.checkpoint.mode}${result.checkpoint.restarted ? '+restart' : ''}`;
  if (result.cutBackByteCount > 0) line += ` cut-back=${result.cutBackByteCount}`;
  return line;
}

export function verifyLines(result: ShadowVerification): string[] {
  if (result.problems.length > 0) {
    return result.problems.map((p) => `${p.file}: ${p.offset === undefined ? '' : `offset ${p.offset}: `}${p.message}`);
  }
  return [
    `consistent: ${result.dbPath} generation=${result.generationId} indexes=${formatIndex(result.firstIndex!)}..${formatIndex(result.lastIndex!)} bytes=${result.byteCount}`,
  ];
}
