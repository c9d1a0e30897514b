/** The process-facing side of the CLI, kept in one object so commands can be run as plain functions. */
import type { Logger } from '../log.js';

export interface CliIo {
  readonly log: Logger;
  stdout(line: string): void;
  stderr(line: string): void;
  /** Whether stderr is a terminal, where progress lines are shown. */
  readonly isTerminal: boolean;
  /** Rewrites the progress line on the terminal; '' clears it. */
  progress(line: string): void;
  /** Calls `handler` on each of the signals; returns a function that removes it. */
  onSignals(signals: readonly NodeJS.Signals[], handler: (signal: NodeJS.Signals) => void): () => void;
}
