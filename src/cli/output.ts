/** How command results look on stdout: one line of text, or one JSON object with --json. */
import type { SyncJobResult } from '../replication/sync-to-replicas.js';
import type { ShadowVerification } from '../shadow/verify.js';
import { formatIndex, formatPos } from '../wal/pos.js';

export function syncSummaryJson(result: SyncJobResult): Record<string, unknown> {
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
    replicas: result.replicas.map((r) => ({
      replica: r.replica,
      snapshotIndex: r.snapshot?.index ?? null,
      segments: r.segmentCount,
      bytes: r.byteCount,
      position: formatPos(r.position),
    })),
  };
}

export function syncSummaryText(result: SyncJobResult): string {
  let line =
    `synced ${result.dbPath} generation=${result.generationId} index=${formatIndex(result.index)} ` +
    `offset=${result.offset} frames=${result.frameCount} transactions=${result.transactionCount} bytes=${result.byteCount}`;
  line += result.newGenerationReason ? ` new-generation=yes reason=${JSON.stringify(result.newGenerationReason)}` : ' new-generation=no';
  if (result.checkpoint) line += ` checkpoint=${result.checkpoint.mode}${result.checkpoint.restarted ? '+restart' : ''}`;
  if (result.cutBackByteCount > 0) line += ` cut-back=${result.cutBackByteCount}`;
  for (const r of result.replicas) {
    line += ` replica=${r.replica}@${formatPos(r.position)}${r.snapshot === undefined ? '' : '+snapshot'}`;
  }
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
